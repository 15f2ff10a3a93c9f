//! Tracing to stderr: off but for warnings by default, text or JSON lines on request.
//! Only this crate's events are traced in detail; the AWS SDK's own are kept at warnings,
//! because its debug output can carry request headers.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::cli::{TraceFormat, TraceLevel};

pub fn init(setting: Option<(TraceFormat, TraceLevel)>) {
    let ours = match setting {
        None => LevelFilter::WARN,
        Some((_, TraceLevel::Info)) => LevelFilter::INFO,
        Some((_, TraceLevel::Debug)) => LevelFilter::DEBUG,
    };
    let sdk = if setting.is_some() {
        LevelFilter::WARN
    } else {
        LevelFilter::OFF
    };
    let filter = Targets::new()
        .with_target(env!("CARGO_CRATE_NAME"), ours)
        .with_default(sdk);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    match setting {
        Some((TraceFormat::Json, _)) => {
            let layer = layer
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false);
            tracing_subscriber::registry()
                .with(layer.with_filter(filter))
                .init();
        }
        Some((TraceFormat::Text, _)) => {
            tracing_subscriber::registry()
                .with(layer.with_filter(filter))
                .init();
        }
        None => {
            let layer = layer.without_time().with_level(true);
            tracing_subscriber::registry()
                .with(layer.with_filter(filter))
                .init();
        }
    }
}
