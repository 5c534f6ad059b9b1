//! Short paths: every `/api/v1/integrations/connectors...` route is also served as
//! `/connectors...` (`POST /connectors/{id}/execute`, the form people type).
//!
//! A middleware outside auth and routing rewrites the short form to the long one, so both
//! forms share one set of handlers, auth rules and error bodies.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;

/// The prefix the short form leaves out.
pub const PREFIX: &str = "/api/v1/integrations";

/// The long form of a short path (with its query), or `None` when the path is not short.
pub fn expand(path_and_query: &str) -> Option<String> {
    let path = path_and_query.split('?').next().unwrap_or_default();
    (path == "/connectors" || path.starts_with("/connectors/"))
        .then(|| format!("{PREFIX}{path_and_query}"))
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if let Some(long) = expand(&pq) {
        if let Ok(uri) = long.parse::<Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn only_connector_paths_expand() {
        assert_eq!(
            expand("/connectors/abc/execute").as_deref(),
            Some("/api/v1/integrations/connectors/abc/execute")
        );
        assert_eq!(
            expand("/connectors?customer_name=a").as_deref(),
            Some("/api/v1/integrations/connectors?customer_name=a")
        );
        assert_eq!(expand("/connectorsx"), None);
        assert_eq!(expand("/api/v1/integrations/connectors"), None);
        assert_eq!(expand("/healthz"), None);
    }
}
