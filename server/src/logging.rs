//! Logs: tracing with a request id per request, text or JSON. The root span records the method,
//! the route pattern and the path only: never the query string (OAuth `code` and `state`) or
//! any header, and for a path whose `{token}` is the credential (connect and reconnect links)
//! the pattern instead of the path.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing::{Span, Subscriber};
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::error::{excerpt, ApiError};

/// How much of a server error's message the request log quotes.
const MAX_LOGGED_MESSAGE: usize = 300;

/// Root span without the query string.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let path = if route.contains("{token}") {
            route.clone()
        } else {
            request.path().to_string()
        };
        tracing::info_span!(
            "request",
            method = %request.method(),
            route = %route,
            path = %path,
            request_id = %request_id,
            status = tracing::field::Empty,
        )
    }

    /// One event per request: its status and, for an error answer, the error code. Never the
    /// error's details, which can carry what the caller sent (a held send's preview quotes the
    /// message); a server error (5xx) also gets its message, at `error` level.
    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error) = match outcome {
            Ok(res) => (res.status(), res.response().error()),
            Err(e) => (e.as_response_error().status_code(), Some(e)),
        };
        let status = status.as_u16();
        span.record("status", status);
        let api = error.and_then(|e| e.as_error::<ApiError>());
        let code = api.map(|e| e.0.code.as_str());
        if status >= 500 {
            let message = match (api, error) {
                (Some(e), _) => excerpt(&e.0.message, MAX_LOGGED_MESSAGE),
                (None, Some(e)) => excerpt(&e.to_string(), MAX_LOGGED_MESSAGE),
                (None, None) => String::new(),
            };
            tracing::error!(parent: &span, status, code, message, "request finished");
        } else {
            tracing::info!(parent: &span, status, code, "request finished");
        }
    }
}

/// Installs the global subscriber (`RUST_LOG` filters, default `info`) writing to stderr, with
/// ANSI colours only when stderr is a terminal and `NO_COLOR` is not set: logs written to a
/// file, a pipe or a log collector carry no escape codes.
pub fn init(format: LogFormat) {
    let ansi = colours_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = subscriber(format, filter, ansi, std::io::stderr).try_init();
}

/// Colours for a terminal only, and never when `NO_COLOR` is set to anything non-empty
/// (<https://no-color.org>).
fn colours_wanted(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// The log subscriber in `format`, writing to `writer`.
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
        LogFormat::Text => Box::new(builder.finish()),
    }
}

/// Middleware: echoes the request id as `X-Request-Id` so a caller can quote it.
pub async fn request_id_header(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|v| actix_web::http::header::HeaderValue::from_str(&v).ok()) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What `format` writes for one event with a field, when stderr is (or is not) a terminal.
    fn logged(format: LogFormat, is_terminal: bool) -> String {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let writer = move || SinkWriter(sink.clone());
        let sub = subscriber(
            format,
            EnvFilter::new("info"),
            colours_wanted(is_terminal, None),
            writer,
        );
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("request", route = "/x");
            let _entered = span.enter();
            tracing::warn!(status = 500, "request finished");
        });
        let out = buf.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    struct SinkWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SinkWriter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn logs_not_written_to_a_terminal_have_no_ansi_codes() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let out = logged(format, false);
            assert!(out.contains("request finished"), "{out:?}");
            assert!(!out.contains('\x1b'), "escape codes in {out:?}");
        }
        // The same event on a terminal is coloured (so the check above can fail).
        assert!(logged(LogFormat::Text, true).contains("\x1b["));
    }

    #[test]
    fn no_color_turns_colours_off_even_on_a_terminal() {
        assert!(colours_wanted(true, None));
        assert!(!colours_wanted(true, Some(OsStr::new("1"))));
        assert!(colours_wanted(true, Some(OsStr::new(""))));
        assert!(!colours_wanted(false, None));
    }
}
