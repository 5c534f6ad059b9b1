//! Health checks: a background task of `connectors serve` that refreshes connectors whose
//! access token is near expiry or that have not been refreshed for long (idle), so a revoked
//! grant is found, and the connector marked `needs_reauth` (with its status webhook), before a
//! user's call fails.
//!
//! Every replica may run the task: a check refreshes through [`Lifecycle::token`] with
//! [`Want::Check`], which skips a row another replica holds locked and, after taking the lock,
//! re-reads the row and does nothing when another replica has just checked it. So one
//! replica runs a given check at a time, and a check is never repeated by the others.

use std::sync::Arc;
use std::time::Duration;

use connector_core::ErrorCode;

use super::{satisfied, Lifecycle, Want, REFRESH_MARGIN_SECS};

const PAGE: i64 = 500;

/// When and what to check.
#[derive(Debug, Clone, Copy)]
pub struct HealthConfig {
    /// Time between rounds (the first round runs one interval after start).
    pub interval: Duration,
    /// A connector not refreshed for this long is refreshed to prove its grant still works.
    pub idle: Duration,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub examined: usize,
    pub refreshed: usize,
    pub needs_reauth: usize,
    /// Another replica held the row, or had just checked it.
    pub skipped: usize,
    pub failed: usize,
}

/// Starts the task (nothing when the interval is zero).
pub fn spawn(lifecycle: Arc<Lifecycle>, cfg: HealthConfig) -> Option<tokio::task::JoinHandle<()>> {
    if cfg.interval.is_zero() {
        return None;
    }
    tracing::info!(
        interval_secs = cfg.interval.as_secs(),
        idle_secs = cfg.idle.as_secs(),
        "connector health checks on"
    );
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match run_once(&lifecycle, cfg).await {
                Ok(r) if r.refreshed + r.needs_reauth + r.failed > 0 => {
                    tracing::info!(?r, "connector health check round")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "connector health check round failed"),
            }
        }
    }))
}

/// One round over every active connector.
pub async fn run_once(lifecycle: &Lifecycle, cfg: HealthConfig) -> Result<Report, sqlx::Error> {
    let margin = cfg.interval.as_secs() as i64 + REFRESH_MARGIN_SECS;
    let idle = (cfg.idle.as_secs() as i64).max(1);
    let want = Want::Check { margin, idle };
    let mut report = Report::default();
    let mut after = String::new();
    loop {
        let rows = lifecycle.store.active_credential_rows(&after, PAGE).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.id.clone();
        let count = rows.len();
        for row in rows {
            report.examined += 1;
            let Ok(creds) = lifecycle.decrypt(&row).await else {
                report.failed += 1;
                continue;
            };
            if satisfied(&row, &creds, want).is_some() {
                continue;
            }
            match lifecycle.token(&row.organization_id, &row.id, want).await {
                Ok(Some(t)) if t.refreshed => report.refreshed += 1,
                Ok(_) => report.skipped += 1,
                Err(e) if e.code == ErrorCode::NeedsReauth => report.needs_reauth += 1,
                Err(e) if e.code == ErrorCode::NotFound => {}
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(connector_id = %row.id, code = %e.code, error = %e.message, "health check refresh failed");
                }
            }
        }
        if (count as i64) < PAGE {
            break;
        }
    }
    Ok(report)
}
