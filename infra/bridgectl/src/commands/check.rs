//! `shops check ID` (written next).
use crate::error::{CliError, Status};
use crate::Ctx;

pub async fn run(_ctx: &Ctx, _shop_id: &str) -> Result<Status, CliError> {
    Err(CliError::Failed("not yet".to_owned()))
}
