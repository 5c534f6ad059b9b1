//! `connectors orgs ...` and `connectors apps ...`: work directly on the database.

use api_types::{ApplicationList, ApplicationView, RotatedSecret};
use connector_core::Secret;
use serde_json::json;

use crate::config::{AppsCommand, Config, OrgsCommand, ServeArgs, StoreArgs};
use crate::store::Store;

async fn open(args: &StoreArgs) -> anyhow::Result<Store> {
    let config = Config::resolve(ServeArgs {
        data_dir: args.data_dir.clone(),
        config: args.config.clone(),
        database_url: args.database_url.clone(),
        ..Default::default()
    })?;
    Store::open(&config.database_url).await
}

pub async fn orgs(cmd: OrgsCommand) -> anyhow::Result<()> {
    match cmd {
        OrgsCommand::Settings(args) => crate::oauth::cli::settings(args).await?,
        OrgsCommand::Create { name, store } => {
            let store = open(&store).await?;
            let org = store.create_org(&name).await?;
            println!("{}", json!({"organization_id": org.id, "name": org.name}));
            store.close().await;
        }
        OrgsCommand::Policy {
            org,
            connector,
            set,
            clear,
            store,
        } => policy(&org, connector.as_deref(), set.as_deref(), clear, &store).await?,
    }
    Ok(())
}

/// `connectors orgs policy`: the same service as `PUT .../policy`, recorded as set by `cli`.
async fn policy(
    org: &str,
    connector: Option<&str>,
    set: Option<&str>,
    clear: bool,
    store: &StoreArgs,
) -> anyhow::Result<()> {
    let config = Config::resolve(ServeArgs {
        data_dir: store.data_dir.clone(),
        config: store.config.clone(),
        database_url: store.database_url.clone(),
        ..Default::default()
    })?;
    let state = crate::AppState::new(config).await?;
    let org = find_org(&state.store, org).await?;
    let services = &state.services;
    let fail = |e: connector_core::ConnectorError| anyhow::anyhow!("{}", e.message);
    if let Some(id) = connector {
        services.connectors.get(&org, id).await.map_err(fail)?;
    }
    let view = if set.is_some() || clear {
        let policy = match set {
            Some(text) => {
                let de = &mut serde_json::Deserializer::from_str(text);
                Some(
                    serde_path_to_error::deserialize(de)
                        .map_err(|e| anyhow::anyhow!("--set: {} at {}", e.inner(), e.path()))?,
                )
            }
            None => None,
        };
        services
            .guardrails
            .set_policy(&org, connector, policy, "cli")
            .await
            .map_err(fail)?
    } else {
        services
            .guardrails
            .policy(&org, connector)
            .await
            .map_err(fail)?
    };
    println!("{}", serde_json::to_string(&view)?);
    state.store.close().await;
    Ok(())
}

pub async fn apps(cmd: AppsCommand) -> anyhow::Result<()> {
    match cmd {
        AppsCommand::Create { org, store } => {
            let store = open(&store).await?;
            let org = store
                .find_org(&org)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no organization with id or name {org:?}"))?;
            let app = crate::auth::create_application(&store, &org.id).await?;
            print_app(&app.organization_id, &app.client_id, &app.client_secret);
            store.close().await;
        }
        AppsCommand::List { org, store } => {
            let store = open(&store).await?;
            let org = find_org(&store, &org).await?;
            let apps = applications(&store).list(&org).await?;
            let list = ApplicationList {
                data: apps.into_iter().map(ApplicationView::from).collect(),
            };
            println!("{}", serde_json::to_string(&list)?);
            store.close().await;
        }
        AppsCommand::Revoke {
            org,
            client_id,
            store,
        } => {
            let store = open(&store).await?;
            let org = find_org(&store, &org).await?;
            let app = applications(&store)
                .revoke_even_the_last(&org, &client_id)
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("no application {client_id:?} in this organization")
                })?;
            println!("{}", serde_json::to_string(&ApplicationView::from(app))?);
            store.close().await;
        }
        AppsCommand::RotateSecret {
            org,
            client_id,
            store,
        } => {
            let store = open(&store).await?;
            let org = find_org(&store, &org).await?;
            let secret = applications(&store)
                .rotate_secret(&org, &client_id)
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("no application {client_id:?} in this organization")
                })?
                .map_err(|_| anyhow::anyhow!("application {client_id:?} is revoked"))?;
            print_app(&org, &client_id, &secret);
            store.close().await;
        }
    }
    Ok(())
}

/// The application service on the CLI's own store (no token cache: the CLI serves no API).
fn applications(store: &Store) -> crate::services::Applications {
    crate::services::Applications::uncached(store.clone())
}

async fn find_org(store: &Store, org: &str) -> anyhow::Result<String> {
    Ok(store
        .find_org(org)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no organization with id or name {org:?}"))?
        .id)
}

fn print_app(org: &str, client_id: &str, secret: &Secret) {
    let app = RotatedSecret {
        organization_id: org.to_string(),
        client_id: client_id.to_string(),
        client_secret: secret.expose().to_string(),
    };
    println!("{}", serde_json::to_string(&app).expect("serializes"));
}

/// `connectors keys rotate|rewrap`.
pub async fn keys(cmd: crate::config::KeysCommand) -> anyhow::Result<()> {
    use crate::config::KeysCommand;
    use crate::vault::{MasterKey, Vault};
    let (rotate, args) = match cmd {
        KeysCommand::Rotate(args) => (true, args),
        KeysCommand::Rewrap(args) => (false, args),
    };
    let config = Config::resolve(ServeArgs {
        data_dir: args.data_dir,
        config: args.config,
        database_url: args.database_url,
        master_key: args.master_key,
        master_key_file: args.master_key_file,
        ..Default::default()
    })?;
    if rotate {
        let Some(path) = MasterKey::key_file(&config) else {
            let new = MasterKey::generate();
            let id = MasterKey::parse(&new)?.id().to_string();
            eprintln!(
                "The master key comes from CONNECTORS_MASTER_KEY. To rotate: set \
                 CONNECTORS_MASTER_KEY=NEW_KEY,CURRENT_KEY on every server and restart them \
                 (both keys are accepted), then run `connectors keys rewrap` with the same \
                 setting; afterwards the old key may be dropped from the list."
            );
            println!(
                "{}",
                json!({"new_master_key_id": id, "new_master_key": new})
            );
            return Ok(());
        };
        // The default key file may not exist yet (no credential stored so far): create it.
        MasterKey::load(&config)?;
        let id = add_key_to_file(&path)?;
        eprintln!("added master key {id} to {}", path.display());
    }
    let store = Store::open(&config.database_url).await?;
    let vault = Vault::new(MasterKey::load(&config)?, store.clone());
    let count = vault.rewrap_all().await?;
    println!(
        "{}",
        json!({"master_key_id": vault.master_key_id(), "rewrapped_data_keys": count})
    );
    store.close().await;
    Ok(())
}

/// Writes a new key first in the key file, keeping the previous keys after it (atomic replace,
/// owner-only permissions); returns the new key's id.
pub fn add_key_to_file(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let old = std::fs::read_to_string(path)
        .with_context(|| format!("reading master key file {}", path.display()))?;
    crate::vault::MasterKey::parse(&old)
        .with_context(|| format!("master key file {}", path.display()))?;
    let new = crate::vault::MasterKey::generate();
    let id = crate::vault::MasterKey::parse(&new)?.id().to_string();
    let tmp = path.with_extension(format!("new-{}", uuid::Uuid::new_v4()));
    crate::vault::write_private(&tmp, format!("{new}\n{}\n", old.trim()).as_bytes())?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(id)
}
