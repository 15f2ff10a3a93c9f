//! Tracing to stderr: off but for warnings by default, text or JSON lines on request.
//! Only this crate's events are traced in detail; the AWS SDK's own are kept at warnings,
//! because its debug output can carry request headers. Untraced, a warning is one
//! `ecr-credential-provider: warning: …` line through `output`, its message only.

pub(crate) mod safe_log;

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;

use crate::cli::{TraceFormat, TraceLevel};
use crate::output;

pub(crate) fn init(setting: Option<(TraceFormat, TraceLevel)>) {
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
        .with_writer(safe_log::SafeStderr {
            json: matches!(setting, Some((TraceFormat::Json, _))),
        })
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
            tracing_subscriber::registry()
                .with(Warnings.with_filter(filter))
                .init();
        }
    }
}

/// The untraced mode's formatter: each event becomes one warning line.
struct Warnings;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        output::warning(&text.finish());
    }
}

/// The message; the fields only when there is no message (they are for traces).
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(self) -> String {
        if self.message.is_empty() {
            self.fields
        } else {
            self.message
        }
    }
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}
