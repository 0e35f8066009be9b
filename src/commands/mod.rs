//! One module per subcommand: glue between the CLI and the library.

pub mod analyze;
pub mod bench;
pub mod data;
pub mod eval;
pub mod levels;
pub mod report;
pub mod reproduce;
pub mod sweep;
pub mod train;

use std::io::IsTerminal;

/// One cause of an error in the words of the command line. The library's data errors already
/// carry their next step (`aqnn data fetch`, `--data-dir`); every cause reads as it says.
pub fn cli_text(cause: &(dyn std::error::Error + 'static)) -> String {
    cause.to_string()
}

/// True when progress bars should be drawn (stderr is a terminal).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// The command line as typed, for provenance.
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use crate::cli::{config_error, flag};
    use crate::config::{Field, TrainConfig};

    /// Missing data names the command and the flag to use.
    #[test]
    fn data_errors_name_the_command_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("nope");
        let e = crate::data::load(&gone, 7).unwrap_err();
        let text: Vec<String> = e.chain().map(super::cli_text).collect();
        let text = text.join(": ");
        assert!(
            text.contains("aqnn data fetch") && text.contains("--data-dir DIR"),
            "{text}"
        );
    }

    #[test]
    fn list_and_shard_flags_parse() {
        assert_eq!(
            super::report::parse_levels("0, 3..=5,8").unwrap(),
            vec![0, 3, 4, 5, 8]
        );
        assert!(super::report::parse_levels("x").is_err());
        assert!(super::sweep::parse_shard("0/2").is_err());
        assert!(super::sweep::parse_shard("3/2").is_err());
        assert_eq!(super::sweep::parse_shard("2/2").unwrap(), (2, 2));
    }

    /// The library's errors name keys; the command line's name the flags that set them.
    #[test]
    fn config_errors_name_the_flag() {
        let e = TrainConfig {
            levels: 1,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            config_error(e).to_string(),
            "--levels 1: must be 0 (full precision) or 2..=65536 (a single level cannot span [-1, 1])"
        );
        let e = TrainConfig {
            zero_shift_eps: 0.7,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(config_error(e).to_string().starts_with("--eps 0.7: "));
        assert_eq!(
            flag(Field::FreezeStartThreshold),
            "--freeze-start-threshold"
        );
    }
}
