//! `aqnn data fetch|info`.

use crate::cli::{DataCommand, DataDirArg};
use crate::data::{self, source, DatasetId};
use anyhow::{bail, Result};

/// The built-in dataset `--dataset` names and its folder (`data fetch` and `data info` work
/// on the official files, so `npz:` is refused).
fn target(d: &DataDirArg) -> Result<(&'static source::DatasetSpec, source::DataLocation)> {
    let id = d.dataset_id()?;
    let Some(spec) = id.spec() else {
        bail!("aqnn data fetch/info work on the built-in datasets (kmnist, fashion-mnist, mnist); an npz: dataset is checked when it is loaded, e.g. by aqnn train --dataset {id}");
    };
    Ok((spec, source::locate(spec.name, d.data_dir.as_deref())))
}

/// Run the command.
pub fn run(c: &DataCommand) -> Result<()> {
    match c {
        DataCommand::Fetch(d) => {
            let (spec, loc) = target(d)?;
            let report = data::fetch::fetch_dataset(spec, &loc.dir, super::interactive())?;
            println!("{report}");
            Ok(())
        }
        DataCommand::Info(d) => {
            let (spec, loc) = target(d)?;
            let infos = data::verify::info_for(spec, &loc.dir)?;
            println!("{} data directory: {}", spec.title, loc.dir.display());
            let bad = infos.iter().filter(|i| !i.is_ok()).count();
            for i in &infos {
                println!("{i}");
            }
            if bad > 0 {
                bail!(
                    "{bad} of {} {} files are missing, unreadable or fail their md5 in {}; run `aqnn data fetch{}` (or point --data-dir / {} at a folder with the official files)",
                    infos.len(),
                    spec.title,
                    loc.dir.display(),
                    if spec.name == "kmnist" { String::new() } else { format!(" --dataset {}", spec.name) },
                    data::DATA_HOME_ENV
                );
            }
            // What the seed's explanation turns on: exactly black pixels after downsampling.
            let id: DatasetId = spec.name.parse()?;
            let full = data::load_dataset(&id, Some(&loc.dir), 28, false)?;
            println!("share of exactly black (0) pixels after downsampling (train / test):");
            for side in data::RESOLUTIONS {
                let down = |x: &[u8]| data::resize::downsample(x, 28, side);
                let ds = data::Dataset {
                    side,
                    train_x: down(&full.train_x)?,
                    train_y: vec![],
                    test_x: down(&full.test_x)?,
                    test_y: vec![],
                };
                let (tr, te) = ds.black_share();
                println!("  {side:>2}x{side:<2}  {:.4} / {:.4}", tr, te);
            }
            Ok(())
        }
    }
}
