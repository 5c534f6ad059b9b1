//! The `connectors` binary as a user runs it: the CLI, and the README quickstart
//! (`serve --sandbox`, then token, list, read, send over HTTP), including a restart.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_connectors");

fn run(args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn cli_creates_an_organization_and_an_application_that_can_get_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let org = run(&["orgs", "create", "acme", "--data-dir", d]);
    let org_id = org["organization_id"].as_str().unwrap();
    let app = run(&["apps", "create", "--org", "acme", "--data-dir", d]);
    assert_eq!(app["organization_id"], org_id);
    let secret = app["client_secret"].as_str().unwrap();
    let by_id = run(&["apps", "create", "--org", org_id, "--data-dir", d]);
    assert_ne!(by_id["client_id"], app["client_id"]);

    let state = server::AppState::new(server::Config::for_data_dir(dir.path()))
        .await
        .unwrap();
    let issued = server::auth::issue_token(
        &state.store,
        app["client_id"].as_str().unwrap(),
        secret,
        3600,
    )
    .await;
    assert!(issued.is_ok());
    // Only the argon2 hash is stored.
    let db = std::fs::read(dir.path().join("connectors.db")).unwrap();
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()));
    let out = Command::new(BIN)
        .args(["apps", "create", "--org", "nobody", "--data-dir", d])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn cli_sets_shows_and_clears_the_organizations_send_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    run(&["orgs", "create", "acme", "--data-dir", d]);
    let none = run(&["orgs", "policy", "--org", "acme", "--data-dir", d]);
    assert_eq!(
        (none["source"].as_str(), none["version"].as_i64()),
        (Some("none"), Some(0))
    );
    let set = run(&[
        "orgs",
        "policy",
        "--org",
        "acme",
        "--data-dir",
        d,
        "--set",
        r#"{"mode": "draft_only", "deny_recipients": ["rival.example"]}"#,
    ]);
    assert_eq!(set["source"], "organization");
    assert_eq!(set["policy"]["mode"], "draft_only");
    assert_eq!(set["updated_by"], "cli");
    let shown = run(&["orgs", "policy", "--org", "acme", "--data-dir", d]);
    assert_eq!(shown["version"], 1);
    let cleared = run(&[
        "orgs",
        "policy",
        "--org",
        "acme",
        "--clear",
        "--data-dir",
        d,
    ]);
    assert_eq!(cleared["source"], "none");
    // A typo names the field.
    let out = Command::new(BIN)
        .args([
            "orgs",
            "policy",
            "--org",
            "acme",
            "--data-dir",
            d,
            "--set",
            r#"{"mode": "sned"}"#,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mode"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &Path, log: &Path, json_logs: bool) -> Server {
    let port = free_port();
    let _ = std::fs::remove_file(dir.join("sandbox.json.ready"));
    let mut cmd = Command::new(BIN);
    if json_logs {
        cmd.args(["--log-format", "json"]);
    }
    let child = cmd
        .args([
            "serve",
            "--sandbox",
            "--data-dir",
            dir.to_str().unwrap(),
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .unwrap();
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if dir.join("sandbox.json").exists()
            && client
                .get(format!("{}/healthz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the server did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Token, list, read, send: the README's curl commands, over HTTP.
async fn quickstart(base: &str, sandbox: &Value) -> String {
    let http = reqwest::Client::new();
    let tok: Value = http
        .post(format!("{base}/api/v1/account/applications/token"))
        .json(
            &json!({"client_id": sandbox["client_id"], "client_secret": sandbox["client_secret"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap().to_string();
    let org = sandbox["organization_id"].as_str().unwrap();
    let connectors = sandbox["connectors"].as_object().unwrap();
    assert!(connectors.contains_key("gmail"), "{sandbox}");
    for (kind, id) in connectors {
        let id = id.as_str().unwrap();
        let exec = |entity: &str, action: &str, params: Value| {
            http.post(format!(
                "{base}/api/v1/integrations/connectors/{id}/execute"
            ))
            .bearer_auth(&token)
            .header("X-Organization-Id", org)
            .json(&json!({"entity": entity, "action": action, "params": params}))
            .send()
        };
        let page = if kind == "gmail" {
            json!({"max_results": 5})
        } else {
            json!({"top": 5})
        };
        let r = exec("messages", "list", page).await.unwrap();
        assert!(
            r.status().is_success(),
            "{kind} list: {}",
            r.text().await.unwrap()
        );
        let listed: Value = r.json().await.unwrap();
        let first = listed["result"][0]["id"]
            .as_str()
            .expect("a listed message")
            .to_string();
        let r = exec("messages", "get", json!({"message_id": first}))
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{kind} get: {}",
            r.text().await.unwrap()
        );
        let one: Value = r.json().await.unwrap();
        assert!(one["result"]["subject"].is_string(), "{one}");
        assert!(
            one["result"].get("text").is_some() || one["result"].get("html").is_some(),
            "{one}"
        );
        let r = exec(
            "messages",
            "send",
            json!({"to": ["someone@example.com"], "subject": "quickstart", "text": "hello"}),
        )
        .await
        .unwrap();
        assert!(
            r.status().is_success(),
            "{kind} send: {}",
            r.text().await.unwrap()
        );
    }
    token
}

#[tokio::test]
async fn readme_quickstart_works_and_survives_a_restart() {
    let root = tempfile::tempdir().unwrap();
    // `./data` under the directory the README's commands run in.
    let dir = DataDir(root.path().join("data"));
    std::fs::create_dir(dir.path()).unwrap();
    let log1 = root.path().join("log1");
    let first = start(dir.path(), &log1, false).await;
    let sandbox: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sandbox.json")).unwrap())
            .unwrap();
    for key in [
        "organization_id",
        "client_id",
        "client_secret",
        "customer_name",
        "connectors",
    ] {
        assert!(sandbox.get(key).is_some(), "sandbox.json has no {key}");
    }
    let token1 = quickstart(&first.base, &sandbox).await;
    drop(first);

    // Restart: same organization, app and connector ids; the fresh emulators are re-bound.
    let log2 = root.path().join("log2");
    let second = start(dir.path(), &log2, true).await;
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sandbox.json")).unwrap())
            .unwrap();
    assert_eq!(again, sandbox);
    let token2 = quickstart(&second.base, &again).await;
    readme_commands(dir.path(), &second.base);
    drop(second);

    // Logs: JSON lines with a request id on request; no secret anywhere.
    let text2 = std::fs::read_to_string(&log2).unwrap();
    let mut saw_request = false;
    for line in text2.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        if v["message"] == "request finished" {
            saw_request = true;
            assert!(
                v["span"]["request_id"].is_string() || v["request_id"].is_string(),
                "{line}"
            );
        }
    }
    assert!(saw_request, "{text2}");
    let logs = std::fs::read_to_string(&log1).unwrap() + &text2;
    for secret in [sandbox["client_secret"].as_str().unwrap(), &token1, &token2] {
        assert!(!logs.contains(secret), "a log line contains a secret");
    }
}

struct DataDir(std::path::PathBuf);

impl DataDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

/// Runs the shell block of the repository README.md that follows the `serve` command, in the
/// directory that holds `data/`, against `base`.
fn readme_commands(data_dir: &Path, base: &str) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(
        blocks[0].contains("serve --sandbox"),
        "the README does not start with serve --sandbox"
    );
    let cwd = data_dir.parent().unwrap();
    // The main block, then the events block that goes on in the same shell.
    assert!(
        blocks[2].contains("/events?after=0"),
        "the events block moved"
    );
    let script = format!("{}{}", blocks[1], blocks[2])
        .replace("BASE=http://127.0.0.1:8080", &format!("BASE={base}"))
        .replace(
            "/tmp/list.json",
            &cwd.join("list.json").display().to_string(),
        );
    assert_ne!(script, blocks[1], "the README block no longer sets BASE");
    let out = Command::new("bash")
        .arg("-euc")
        .arg(&script)
        .current_dir(cwd)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert_eq!(answers.len(), 5, "{stdout}");
    for a in &answers[..4] {
        assert!(a.get("result").is_some() && a.get("error").is_none(), "{a}");
    }
    // The inserted mail is in the feed as message.received, after the reply's message.sent.
    let events = answers[4]["data"].as_array().expect("a feed");
    let received = events
        .iter()
        .find(|e| e["type"] == "message.received")
        .unwrap_or_else(|| panic!("no message.received in {stdout}"));
    assert_eq!(received["message"]["id"], answers[3]["result"]["id"]);
    assert_eq!(received["message"]["subject"], "Can you send the report?");
    // The reply joined the thread of the message it answers.
    assert_eq!(
        answers[2]["result"]["thread_id"], answers[1]["result"]["thread_id"],
        "{stdout}"
    );
    assert!(
        answers[1]["result"]["subject"].is_string(),
        "{}",
        answers[1]
    );
}

#[tokio::test]
async fn standalone_emulator_accepts_only_the_configured_tokens() {
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "sandbox",
            "gmail",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--token",
            "tok-ro=grace@example.com:gmail.readonly",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let base = info["base_url"].as_str().unwrap().to_string();
    assert_eq!(info["token_url"], format!("{base}/token"));
    let http = reqwest::Client::new();
    let profile = |token: &'static str| {
        http.get(format!("{base}/gmail/v1/users/me/profile"))
            .bearer_auth(token)
            .send()
    };
    let ok: Value = profile("tok-ro").await.unwrap().json().await.unwrap();
    assert_eq!(ok["emailAddress"], "grace@example.com");
    assert_eq!(profile("other").await.unwrap().status(), 401);
    let _ = child.kill();
    let _ = child.wait();
}
