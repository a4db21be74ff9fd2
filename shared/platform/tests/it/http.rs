use actix_web::{HttpRequest, HttpResponse, web};
use platform::auth::{Principal, Role, TokenIssuer};
use platform::http::Api;
use platform::idempotency::{self, Start};
use platform::{ApiError, Application, Platform};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::helpers::{count, platform};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
struct Note {
    text: String,
}

/// A route as services declare them: who may call it is in its OpenAPI operation.
#[utoipa::path(post, path = "/v1/notes", security(("bearer" = ["agent"])),
    responses((status = 201, description = "created")))]
async fn create_note(
    req: HttpRequest,
    who: Principal,
    p: web::Data<Platform>,
    body: web::Json<Note>,
) -> Result<HttpResponse, ApiError> {
    platform::error::Validator::new()
        .text(&body.text, "text", 10)
        .finish()?;
    let key = idempotency::key_from(&req)?.ok_or_else(|| ApiError::field("Idempotency-Key", "required"))?;
    let scope = format!("notes:{}", who.subject);
    let fp = idempotency::fingerprint(&body.text);
    match idempotency::start(&p.pool, &scope, &key, &fp).await? {
        Start::Replay { status, body } => Ok(HttpResponse::build(status).json(body)),
        Start::New(mut tx) => {
            let id: i64 = sqlx::query_scalar("INSERT INTO note (text) VALUES ($1) RETURNING id")
                .bind(&body.text)
                .fetch_one(&mut *tx)
                .await?;
            let out = json!({"id": id, "text": body.text});
            idempotency::finish(&mut tx, &scope, &key, &fp, actix_web::http::StatusCode::CREATED, &out).await?;
            tx.commit().await?;
            Ok(HttpResponse::Created().json(out))
        }
    }
}

async fn start() -> (String, Platform) {
    let t = platform("http", &[("HTTP__BODY_LIMIT_BYTES", "2048")]).await;
    sqlx::query("CREATE TABLE note (id BIGSERIAL PRIMARY KEY, text TEXT NOT NULL)")
        .execute(&t.platform.pool)
        .await
        .expect("table");
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create_note))]
    struct NotesApi;
    let api = Api::new(<NotesApi as utoipa::OpenApi>::openapi(), |cfg| {
        cfg.route("/v1/notes", web::post().to(create_note))
            .route("/v1/undeclared", web::get().to(HttpResponse::Ok));
    });
    let app = Application::build(t.platform.clone(), &t.settings, api, vec![])
        .await
        .expect("build");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    (url, t.platform)
}

fn token(role: Role) -> String {
    TokenIssuer::from_secret(platform::config::DEVELOPMENT_JWT_SECRET, None, None)
        .issue(uuid::Uuid::new_v4(), &[role], 600)
        .expect("token")
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi_are_served() {
    let (url, _) = start().await;
    let c = reqwest::Client::new();
    assert_eq!(
        c.get(format!("{url}/healthz")).send().await.expect("healthz").status(),
        200
    );
    let ready = c.get(format!("{url}/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    for dep in ["postgres", "redis", "rabbitmq"] {
        assert_eq!(body["checks"][dep]["status"], "ok", "{body}");
    }
    let doc: Value = c
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let viewer = c
        .get(format!("{url}/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("docs")
        .text()
        .await
        .expect("text");
    assert!(viewer.contains("/openapi.json"), "{viewer}");
    let metrics = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("http_requests_total{method=\"GET\",route=\"/healthz\""),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn errors_are_problem_json() {
    let (url, p) = start().await;
    let c = reqwest::Client::new();
    let post = |token: Option<String>, body: String| {
        let mut r = c
            .post(format!("{url}/v1/notes"))
            .header("content-type", "application/json")
            .header("idempotency-key", "k1")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let check = |res: reqwest::Response, status: u16, code: &'static str| async move {
        assert_eq!(res.status().as_u16(), status);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status);
        body
    };
    check(
        post(None, r#"{"text":"hi"}"#.into()).await.expect("send"),
        401,
        "unauthorized",
    )
    .await;
    check(
        post(Some("garbage".into()), r#"{"text":"hi"}"#.into())
            .await
            .expect("send"),
        401,
        "unauthorized",
    )
    .await;
    check(
        post(Some(token(Role::Customer)), r#"{"text":"hi"}"#.into())
            .await
            .expect("send"),
        403,
        "forbidden",
    )
    .await;
    let agent = token(Role::Agent);
    check(
        post(Some(agent.clone()), "{not json".into()).await.expect("send"),
        400,
        "malformed_json",
    )
    .await;
    check(
        post(Some(agent.clone()), r#"{"txt":"hi"}"#.into()).await.expect("send"),
        422,
        "invalid_body",
    )
    .await;
    let body = check(
        post(Some(agent.clone()), r#"{"text":"far too long a note"}"#.into())
            .await
            .expect("send"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "text");
    check(
        post(Some(agent.clone()), format!(r#"{{"text":"{}"}}"#, "x".repeat(5000)))
            .await
            .expect("send"),
        413,
        "payload_too_large",
    )
    .await;
    check(
        c.get(format!("{url}/v1/nowhere")).send().await.expect("send"),
        404,
        "route_not_found",
    )
    .await;
    // Valid JSON, but text Postgres cannot store: a clear 422, not a server error.
    check(
        post(Some(agent.clone()), r#"{"text":"a\u0000b"}"#.into())
            .await
            .expect("send"),
        422,
        "invalid_text",
    )
    .await;
    assert_eq!(
        count(&p.pool, "SELECT count(*) FROM note").await,
        0,
        "bad input changed nothing"
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response() {
    let (url, p) = start().await;
    let c = reqwest::Client::new();
    let agent = token(Role::Agent);
    let send = |text: &'static str| {
        c.post(format!("{url}/v1/notes"))
            .bearer_auth(&agent)
            .header("idempotency-key", "same")
            .json(&json!({"text": text}))
            .send()
    };
    let first = send("hello").await.expect("first");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    let again = send("hello").await.expect("again");
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.expect("json"), first);
    let other = send("changed").await.expect("other");
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<Value>().await.expect("json")["code"],
        "idempotency_key_reused"
    );
    assert_eq!(count(&p.pool, "SELECT count(*) FROM note").await, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_have_one_effect() {
    let (url, p) = start().await;
    let c = reqwest::Client::new();
    let agent = token(Role::Agent);
    let send = || {
        c.post(format!("{url}/v1/notes"))
            .bearer_auth(&agent)
            .header("idempotency-key", "racing")
            .json(&json!({"text": "once"}))
            .send()
    };
    let results = futures_util::future::join_all((0..8).map(|_| send())).await;
    let statuses: Vec<u16> = results
        .into_iter()
        .map(|r| r.expect("send").status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert!(statuses.contains(&201));
    assert_eq!(count(&p.pool, "SELECT count(*) FROM note").await, 1, "one effect");
    let retried = send().await.expect("retry");
    assert_eq!(retried.status(), 201, "a retry receives the first response");
}

#[tokio::test]
async fn the_request_span_continues_the_callers_trace() {
    let (url, _) = start().await;
    let res = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()["x-trace-id"], "0af7651916cd43dd8448eb211c80319c");
}

/// Fails while `failing` is set; records each event's `n` otherwise.
struct Flaky {
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl platform::bus::consumer::EventHandler for Flaky {
    fn handle<'a>(
        &'a self,
        tx: &'a mut platform::Tx,
        event: &'a contracts::RawEnvelope,
    ) -> futures_util::future::BoxFuture<'a, Result<(), platform::bus::consumer::HandlerError>> {
        Box::pin(async move {
            if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(platform::bus::consumer::HandlerError::Reject(anyhow::anyhow!(
                    "bad reference data"
                )));
            }
            let ping = event.decode::<crate::helpers::Ping>()?;
            sqlx::query("INSERT INTO note (text) VALUES ($1)")
                .bind(ping.data.n.to_string())
                .execute(&mut **tx)
                .await?;
            Ok(())
        })
    }
}

#[tokio::test]
async fn an_admin_sees_parked_messages_and_replays_them_once_the_cause_is_fixed() {
    let t = platform("parking-admin", &[]).await;
    sqlx::query("CREATE TABLE note (id BIGSERIAL PRIMARY KEY, text TEXT NOT NULL)")
        .execute(&t.platform.pool)
        .await
        .expect("table");
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let consumer = t.platform.consumer(
        platform::bus::consumer::ConsumerSpec::new("pings", &["test.ping"]),
        Flaky {
            failing: failing.clone(),
        },
    );
    let api = Api::new(utoipa::openapi::OpenApiBuilder::new().build(), |_| {});
    let app = Application::build(t.platform.clone(), &t.settings, api, vec![Box::new(consumer)])
        .await
        .expect("build");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let mut tx = t.platform.pool.begin().await.expect("begin");
    t.platform
        .outbox
        .stage(&mut tx, crate::helpers::Ping { n: 42 })
        .await
        .expect("stage");
    t.platform.outbox.commit(tx).await.expect("commit");

    let c = reqwest::Client::new();
    let admin = token(Role::Admin);
    let parked = || async {
        let v: Value = c
            .get(format!("{url}/v1/admin/parking"))
            .bearer_auth(&admin)
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(v["items"][0]["parked"].as_u64().unwrap_or(0))
    };
    testkit::eventually(10, "the message parked", || async {
        Ok((parked().await? == 1).then_some(()))
    })
    .await
    .expect("parked");
    let agent = c
        .post(format!("{url}/v1/admin/parking/pings/replay"))
        .bearer_auth(token(Role::Agent))
        .send()
        .await
        .expect("send");
    assert_eq!(agent.status(), 403);
    let unknown = c
        .post(format!("{url}/v1/admin/parking/nobody/replay"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(unknown.status(), 404);

    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let replayed: Value = c
        .post(format!("{url}/v1/admin/parking/pings/replay?limit=10"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("replay")
        .json()
        .await
        .expect("json");
    assert_eq!(replayed["replayed"], 1);
    testkit::eventually(10, "the replayed message handled", || async {
        Ok((count(&t.platform.pool, "SELECT count(*) FROM note WHERE text = '42'").await == 1).then_some(()))
    })
    .await
    .expect("handled");
    assert_eq!(parked().await.expect("parked"), 0);
}

#[tokio::test]
async fn an_admin_moves_a_manual_clock_and_a_system_clock_cannot_be_moved() {
    let t = platform(
        "clock",
        &[("CLOCK__MODE", "manual"), ("CLOCK__START", "2026-09-01T08:00:00Z")],
    )
    .await;
    let app = Application::build(
        t.platform.clone(),
        &t.settings,
        Api::new(utoipa::openapi::OpenApiBuilder::new().build(), |_| {}),
        vec![],
    )
    .await
    .expect("build");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let c = reqwest::Client::new();
    let admin = token(Role::Admin);
    let now: Value = c
        .get(format!("{url}/v1/admin/clock"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(now, json!({"mode": "manual", "now": "2026-09-01T08:00:00Z"}));
    let moved = c
        .post(format!("{url}/v1/admin/clock"))
        .bearer_auth(&admin)
        .json(&json!({"advance_secs": 7 * 86_400}))
        .send()
        .await
        .expect("post");
    assert_eq!(moved.status(), 200);
    assert_eq!(
        moved.json::<Value>().await.expect("json")["now"],
        "2026-09-08T08:00:00Z"
    );
    assert_eq!(t.platform.clock.now().to_rfc3339(), "2026-09-08T08:00:00+00:00");
    let back = c
        .post(format!("{url}/v1/admin/clock"))
        .bearer_auth(&admin)
        .json(&json!({"set": "2026-09-01T00:00:00Z"}))
        .send()
        .await
        .expect("post");
    assert_eq!(back.status(), 422, "time does not go backwards");
    let agent = c
        .post(format!("{url}/v1/admin/clock"))
        .bearer_auth(token(Role::Agent))
        .json(&json!({"advance_secs": 1}))
        .send()
        .await
        .expect("post");
    assert_eq!(agent.status(), 403);

    let (system, _) = start().await;
    let refused = c
        .post(format!("{system}/v1/admin/clock"))
        .bearer_auth(&admin)
        .json(&json!({"advance_secs": 1}))
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 409);
}

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let (url, _) = start().await;
    let c = reqwest::Client::new();
    let lines = |c: reqwest::Client| {
        let url = url.clone();
        async move {
            c.get(format!("{url}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text")
                .lines()
                .count()
        }
    };
    c.get(format!("{url}/healthz")).send().await.expect("warm up");
    let before = lines(c.clone()).await;
    for i in 0..300 {
        let method = reqwest::Method::from_bytes(format!("FOO{i}").as_bytes()).expect("method");
        c.request(method, format!("{url}/healthz"))
            .send()
            .await
            .expect("request");
    }
    let after = lines(c.clone()).await;
    assert!(
        after < before + 60,
        "300 made-up methods grew /metrics from {before} to {after} lines"
    );
}

#[tokio::test]
async fn the_docs_page_and_its_viewer_are_served_by_the_service_itself() {
    let (url, _) = start().await;
    let c = reqwest::Client::new();
    let page = c
        .get(format!("{url}/docs"))
        .send()
        .await
        .expect("docs")
        .text()
        .await
        .expect("text");
    assert!(!page.contains("https://"), "nothing is loaded from elsewhere: {page}");
    let assets: Vec<&str> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| page.split(attr).skip(1).filter_map(|rest| rest.split('"').next()))
        .filter(|a| !a.is_empty() && !a.starts_with('#'))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "the viewer's script: {page}");
    for asset in assets {
        let path = asset.trim_start_matches("./");
        let res = c.get(format!("{url}/docs/{path}")).send().await.expect("asset");
        assert_eq!(res.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn each_route_is_guarded_by_its_declaration_and_the_document_lists_the_kernels_statuses() {
    let (url, _) = start().await;
    let c = reqwest::Client::new();
    let doc: Value = c
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    let notes = &doc["paths"]["/v1/notes"]["post"];
    assert_eq!(notes["security"], json!([{"bearer": ["agent"]}]));
    for status in ["400", "401", "403", "413", "415", "422", "503"] {
        assert_eq!(
            notes["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem",
            "{status}"
        );
    }
    // The kernel's own admin routes are in the document too, admins only.
    for (path, method) in [
        ("/v1/admin/clock", "get"),
        ("/v1/admin/clock", "post"),
        ("/v1/admin/parking", "get"),
        ("/v1/admin/parking/{consumer}/replay", "post"),
    ] {
        assert_eq!(
            doc["paths"][path][method]["security"],
            json!([{"bearer": ["admin"]}]),
            "{path}"
        );
    }
    // The matrix over the document, as services run it.
    let staff = TokenIssuer::from_secret(platform::config::DEVELOPMENT_JWT_SECRET, None, None)
        .issue_for(
            &Principal::new(uuid::Uuid::new_v4(), &[Role::Staff])
                .with_functions(&[platform::auth::StaffFunction::Trainer]),
            600,
        )
        .expect("token");
    let clock = |t: String| c.get(format!("{url}/v1/admin/clock")).bearer_auth(t).send();
    assert_eq!(clock(token(Role::Admin)).await.expect("send").status(), 200);
    let refused = clock(staff).await.expect("send");
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["detail"], "requires admin", "{body}");
    // A /v1 route the document does not declare is refused to everyone, admins included.
    let undeclared = c
        .get(format!("{url}/v1/undeclared"))
        .bearer_auth(token(Role::Admin))
        .send()
        .await
        .expect("send");
    assert_eq!(undeclared.status(), 403);
}

#[tokio::test]
async fn a_parking_queue_that_does_not_exist_holds_nothing() {
    let t = platform("parking-missing", &[]).await;
    let queues = platform::bus::topology::ConsumerQueues {
        main: "nowhere.main".into(),
        retries: Vec::new(),
        parking: format!("nowhere.{}.parking", uuid::Uuid::new_v4()),
    };
    assert_eq!(
        platform::bus::parking::parked(&t.platform.bus, &queues)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        platform::bus::parking::replay(&t.platform.bus, &queues, 10)
            .await
            .expect("replay"),
        0
    );
}

#[tokio::test]
async fn a_service_whose_document_leaves_a_route_undeclared_does_not_start() {
    #[utoipa::path(get, path = "/v1/open-to-anyone", responses((status = 200, description = "ok")))]
    #[allow(dead_code)]
    async fn undeclared() -> HttpResponse {
        HttpResponse::Ok().finish()
    }
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(undeclared))]
    struct Undeclared;
    let t = platform("undeclared", &[]).await;
    let api = Api::new(<Undeclared as utoipa::OpenApi>::openapi(), |cfg| {
        cfg.route("/v1/open-to-anyone", web::get().to(undeclared));
    });
    let err = Application::build(t.platform.clone(), &t.settings, api, vec![])
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("GET /v1/open-to-anyone declares no security"), "{err}");
}
