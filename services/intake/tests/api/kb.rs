//! The knowledge base and smart answers.

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{app, app_with, open, open_new, walk};

async fn article(app: &TestApp, title: &str, body: &str, language: &str, category: &str) -> Value {
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let body = json!({"title": title, "body": body, "language": language, "category": category, "tags": ["faq"]});
    let (status, article) = app.post_json("/v1/kb/articles", &agent, &body).await;
    assert_eq!(status, 201);
    article
}

async fn seed(app: &TestApp) -> Value {
    article(
        app,
        "忘记密码怎么重置",
        "在登录页点击“忘记密码”，输入注册手机号，收到验证码后设置新密码即可。",
        "zh-CN",
        "other",
    )
    .await;
    article(
        app,
        "How do I download my certificate?",
        "Open My Courses, choose the finished course and press Download certificate.",
        "en",
        "course_consultation",
    )
    .await
}

#[tokio::test]
async fn articles_are_versioned_and_searched_by_relevance_in_both_languages() {
    let app = app().await;
    let cert = seed(&app).await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let hits: Value = app
        .get_json("/v1/kb/search?q=%E5%BF%98%E8%AE%B0%E5%AF%86%E7%A0%81%E4%BA%86", &me)
        .await;
    assert_eq!(hits["items"][0]["article"]["title"], "忘记密码怎么重置", "{hits}");
    assert!(hits["terms"].as_array().is_some_and(|t| t.iter().any(|x| x == "密码")));
    let en: Value = app
        .get_json("/v1/kb/search?q=certificate+download&language=en", &me)
        .await;
    assert_eq!(en["items"].as_array().map(Vec::len), Some(1));
    assert!(en["items"][0]["confidence"].as_f64().is_some_and(|c| c > 0.5));

    let id = cert["id"].as_str().expect("id");
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let body = json!({"title": "How do I download my certificate?", "body": "Certificates are under Profile > Certificates.",
        "language": "en", "category": "course_consultation"});
    let (status, updated) = app.put_json(&format!("/v1/kb/articles/{id}"), &agent, &body).await;
    assert_eq!(status, 200);
    assert_eq!(updated["version"], 2);
    let full: Value = app.get_json(&format!("/v1/kb/articles/{id}"), &agent).await;
    assert_eq!(full["history"][0]["version"], 1);
    assert!(
        full["history"][0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("My Courses"))
    );
    let found: Value = app.get_json("/v1/kb/search?q=profile+certificates", &me).await;
    assert_eq!(found["items"][0]["article"]["id"], id, "the new text is searched");

    let body = json!({"title": "t", "body": "b", "language": "en", "category": "other"});
    let (customer_write, _) = app.post_json("/v1/kb/articles", &me, &body).await;
    assert_eq!(customer_write, 403);
    let body = json!({"title": "", "body": "b", "language": "fr", "category": "misc"});
    let (bad, _) = app.post_json("/v1/kb/articles", &agent, &body).await;
    assert_eq!(bad, 422);
    assert_eq!(app.count("SELECT count(*) FROM kb_article").await, 2);
}

#[tokio::test]
async fn a_standard_question_is_answered_at_once_and_solved_counts_as_a_deflection() {
    let app = app().await;
    seed(&app).await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let t = open(&app, &me, "忘记密码了", "忘记密码怎么重置？").await;
    assert_eq!(t["status"], "auto_answered", "{t}");
    assert!(t["answer_confidence"].as_f64().is_some_and(|c| c >= 0.6));
    let id = t["id"].as_str().expect("id").to_owned();
    let thread: Value = app.get_json(&format!("/v1/tickets/{id}/messages"), &me).await;
    assert_eq!(thread["items"][0]["author_role"], "system");
    assert!(
        thread["items"][0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("验证码"))
    );

    let other = app.token(Uuid::new_v4(), Role::Customer);
    let feedback = format!("/v1/tickets/{id}/answer-feedback");
    let (status, _) = app.post_json(&feedback, &other, &json!({"solved": true})).await;
    assert_eq!(status, 404, "only the ticket's customer gives the verdict");
    let (_, solved) = app.post_json(&feedback, &me, &json!({"solved": true})).await;
    assert_eq!(solved["status"], "resolved");
    assert_eq!(solved["deflected"], true);
    let (twice, _) = app.post_json(&feedback, &me, &json!({"solved": false})).await;
    assert_eq!(twice, 409);

    let t2 = open(
        &app,
        &me,
        "How do I download my certificate",
        "How do I download my certificate?",
    )
    .await;
    assert_eq!(t2["status"], "auto_answered");
    let id2 = t2["id"].as_str().expect("id");
    let body = json!({"solved": false});
    let (_, unsolved) = app
        .post_json(&format!("/v1/tickets/{id2}/answer-feedback"), &me, &body)
        .await;
    assert_eq!(unsolved["status"], "queued", "not solved: to a person");
    assert_eq!(unsolved["deflected"], false);

    // A complaint is never answered by a machine, even when an article matches.
    let angry = open(
        &app,
        &me,
        "忘记密码怎么重置 投诉",
        "忘记密码怎么重置？你们的系统太差了，我要投诉！",
    )
    .await;
    assert_eq!(angry["status"], "queued");
    assert_eq!(angry["classification"]["high_emotion"], true);
}

#[tokio::test]
async fn no_verdict_in_time_hands_the_ticket_to_a_person_and_answers_become_articles() {
    let app = app_with(&[("INTAKE__SERVICE__AUTO_ANSWER_WAIT_MINUTES", "0")]).await;
    seed(&app).await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let t = open(&app, &me, "忘记密码了", "忘记密码怎么重置？").await;
    assert_eq!(t["status"], "auto_answered");
    let pool = app.platform.pool.clone();
    testkit::eventually(10, "queued after the wait", || async {
        let s: String = sqlx::query_scalar("SELECT status FROM ticket").fetch_one(&pool).await?;
        Ok((s == "queued").then_some(()))
    })
    .await
    .expect("queued");

    // An agent answers a new kind of question; the answer becomes an article.
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let q = open(&app, &me, "发票怎么开", "课程发票在哪里申请？").await;
    let qid = q["id"].as_str().expect("id");
    let (early, _) = app
        .post_json(&format!("/v1/tickets/{qid}/article"), &agent, &json!({}))
        .await;
    assert_eq!(early, 409, "not resolved yet");
    walk(&app, &agent, qid, &["start"]).await;
    let body = json!({"body": "在“我的订单”里点击“申请发票”，填写抬头即可。"});
    let (status, _) = app
        .post_json(&format!("/v1/tickets/{qid}/messages"), &agent, &body)
        .await;
    assert_eq!(status, 201);
    walk(&app, &agent, qid, &["resolve"]).await;
    let body = json!({"tags": ["invoice"]});
    let (status, a) = app
        .post_json(&format!("/v1/tickets/{qid}/article"), &agent, &body)
        .await;
    assert_eq!(status, 201);
    assert_eq!(a["title"], "发票怎么开");
    assert_eq!(a["source_ticket_id"], qid);
    assert!(a["body"].as_str().is_some_and(|b| b.contains("申请发票")));
    let next = open_new(&app, "发票怎么开", "请问发票怎么开？").await;
    assert_eq!(next["status"], "auto_answered", "the new article answers the next one");
    assert_eq!(next["answer_article_id"], a["id"]);
}

/// Each replica answers from its own copy of the knowledge base: an article published through
/// another replica (here written straight into the shared database) answers new tickets once
/// this replica's next check (`kb_cache_secs`) has seen it.
#[tokio::test]
async fn an_article_published_elsewhere_answers_tickets_after_the_next_check() {
    let app = app_with(&[("INTAKE__SERVICE__KB_CACHE_SECS", "1")]).await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let before = open(&app, &me, "发票怎么开", "我想开发票，发票怎么开？").await;
    assert_eq!(before["status"], "queued", "{before}");
    sqlx::query(
        "INSERT INTO kb_article (id, language, category, tags, title, body, terms, search, created_by) \
         VALUES ($1, 'zh-CN', 'other', '{}', '发票怎么开', '在“我的订单”里点击“申请发票”，填写抬头和税号即可。', \
                 ARRAY['发票', '怎么', '订单', '申请', '抬头', '税号'], to_tsvector('simple', '发票 怎么 订单 申请 抬头 税号'), $2)",
    )
    .bind(Uuid::now_v7())
    .bind(Uuid::new_v4())
    .execute(&app.platform.pool)
    .await
    .expect("article");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let other = app.token(Uuid::new_v4(), Role::Customer);
    let after = open(&app, &other, "发票怎么开", "我想开发票，发票怎么开？").await;
    assert_eq!(after["status"], "auto_answered", "{after}");
    app.stop().await.expect("stop");
}
