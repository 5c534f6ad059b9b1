//! Token lifecycle across server replicas (issue 8): one refresh per stampede across servers,
//! rotated refresh tokens never lost, a killed lock holder, health checks, signed status
//! webhooks, the credential endpoint.

#[path = "../oidc_flow/as_harness.rs"]
mod as_harness;
#[path = "../api/conformance.rs"]
mod conformance;
mod in_process;
mod issuer;
#[path = "../support/pgdb.rs"]
mod pgdb;
mod replicas;
mod support;
