//! Logs go to stderr: JSON lines in Lambda (fit for Lambda's JSON log format and
//! CloudWatch Logs Insights), plain lines on the command line, whose stdout is the
//! report. `RUST_LOG` filters; without it, `info`, or `error` with `--quiet`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

pub fn init(lambda: bool, quiet: bool) {
    let default = if quiet { "error" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if lambda {
        builder.event_format(LambdaJson).init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// One JSON object per event: `timestamp`, `level`, `message` and the event's
/// fields. A `summary` field that holds a JSON object is merged into the line, so
/// that its nested counts stay objects (`kept.healthy`), not strings.
struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut line = Fields(Map::new());
        line.0.insert("timestamp".into(), timestamp.into());
        line.0
            .insert("level".into(), event.metadata().level().as_str().into());
        event.record(&mut line);
        let text = serde_json::to_string(&line.0).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

struct Fields(Map<String, Value>);

impl Fields {
    fn insert(&mut self, field: &Field, value: Value) {
        if field.name() == "summary" {
            if let Value::String(text) = &value {
                if let Ok(Value::Object(summary)) = serde_json::from_str(text) {
                    self.0.extend(summary);
                    return;
                }
            }
        }
        self.0.insert(field.name().to_string(), value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}
