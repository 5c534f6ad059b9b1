//! `connectors orgs ...` and `connectors apps ...`: work directly on the database.

use connector_core::Secret;
use serde_json::json;

use crate::config::{AppsCommand, Config, OrgsCommand, ServeArgs, StoreArgs};
use crate::store::Store;

async fn open(args: &StoreArgs) -> anyhow::Result<Store> {
    let config = Config::resolve(ServeArgs {
        data_dir: args.data_dir.clone(),
        config: args.config.clone(),
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
    }
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
            let apps = crate::apps_admin::list(&store, &org).await?;
            println!("{}", json!({"data": apps}));
            store.close().await;
        }
        AppsCommand::Revoke {
            org,
            client_id,
            store,
        } => {
            let store = open(&store).await?;
            let org = find_org(&store, &org).await?;
            let app = crate::apps_admin::revoke(&store, &org, &client_id)
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("no application {client_id:?} in this organization")
                })?;
            println!("{}", json!(app));
            store.close().await;
        }
        AppsCommand::RotateSecret {
            org,
            client_id,
            store,
        } => {
            let store = open(&store).await?;
            let org = find_org(&store, &org).await?;
            let secret = crate::apps_admin::rotate_secret(&store, &org, &client_id)
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

async fn find_org(store: &Store, org: &str) -> anyhow::Result<String> {
    Ok(store
        .find_org(org)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no organization with id or name {org:?}"))?
        .id)
}

fn print_app(org: &str, client_id: &str, secret: &Secret) {
    println!(
        "{}",
        json!({"organization_id": org, "client_id": client_id, "client_secret": secret.expose()})
    );
}
