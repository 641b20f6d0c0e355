//! `local-stack`: the whole bridge on one machine (see `local_stack::stack`).

#[tokio::main]
async fn main() {
    std::process::exit(local_stack::stack::main_with_args(std::env::args_os()).await);
}
