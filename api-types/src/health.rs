//! `/healthz` and `/readyz`.

use serde::{Deserialize, Serialize};

/// `{"status": "ok"}` / `{"status": "ready"}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthStatus {
    /// `ok` (healthz) or `ready` (readyz).
    #[schema(example = "ok")]
    pub status: String,
}
