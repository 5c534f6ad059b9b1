//! The kit's control surface works for the Outlook emulator: the same test the Gmail emulator
//! runs (`sandbox_kit::conformance`).

use sandbox_kit::conformance::{control_surface, Probe};
use sandbox_outlook::{OutlookSandbox, SandboxConfig};

#[tokio::test]
async fn every_control_of_the_kit_works_for_outlook() {
    let sb = OutlookSandbox::start(SandboxConfig {
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let probe = Probe {
        path: "/v1.0/me",
        scopes: &["User.Read", "Mail.Read"],
    };
    control_surface(&sb, &probe).await;
}
