//! `bridgectl` binary: see the library for the commands.

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bridgectl: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(bridgectl::main_with_args(std::env::args_os()));
    // Drop the runtime (and its connections) before exiting.
    drop(runtime);
    std::process::exit(code);
}
