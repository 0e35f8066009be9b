//! `aqnn data fetch|info`.

use crate::cli::DataCommand;
use crate::data;
use anyhow::Result;

/// Run the command.
pub fn run(c: &DataCommand) -> Result<()> {
    match c {
        DataCommand::Fetch(d) => {
            let dir = data::resolve_data_dir(d.data_dir.as_deref());
            let report = data::fetch::fetch(&dir, super::interactive())?;
            println!("{report}");
            Ok(())
        }
        DataCommand::Info(d) => {
            let dir = data::resolve_data_dir(d.data_dir.as_deref());
            let infos = data::fetch::info(&dir)?;
            println!("data directory: {}", dir.display());
            for i in infos {
                println!("{i}");
            }
            Ok(())
        }
    }
}
