//! The data directory: files readable by the owner only, one server at a time.

use std::os::unix::fs::PermissionsExt;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[actix_web::test]
async fn the_database_and_key_files_are_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = server::AppState::new(server::Config::for_data_dir(dir.path()))
        .await
        .unwrap();
    state.store.create_org("acme").await.unwrap();
    for name in ["connectors.db", "master.key"] {
        assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
    }
    for extra in ["connectors.db-wal", "connectors.db-shm"] {
        let p = dir.path().join(extra);
        if p.exists() {
            assert_eq!(mode(&p) & 0o077, 0, "{extra}");
        }
    }
    state.store.close().await;
    // A database left world-readable by an earlier version is made private on open.
    std::fs::set_permissions(
        dir.path().join("connectors.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let state = server::AppState::new(server::Config::for_data_dir(dir.path()))
        .await
        .unwrap();
    assert_eq!(mode(&dir.path().join("connectors.db")), 0o600);
    assert_eq!(mode(&dir.path().join("master.key")), 0o600);
    state.store.close().await;
}

#[test]
fn a_data_directory_is_held_by_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let held = server::lock_data_dir(dir.path()).unwrap();
    let err = server::lock_data_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("in use by another"), "{err}");
    drop(held);
    server::lock_data_dir(dir.path()).unwrap();
}
