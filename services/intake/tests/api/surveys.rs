//! Satisfaction surveys and follow-up visits.

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{app, open, walk};

async fn resolved(app: &TestApp, subject: &str, body: &str) -> String {
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = open(app, &me, subject, body).await;
    let id = t["id"].as_str().expect("id").to_owned();
    walk(app, &agent, &id, &["start", "resolve"]).await;
    id
}

#[tokio::test]
async fn a_resolved_ticket_gets_one_survey_answered_once_from_its_signed_link() {
    let app = app().await;
    let id = resolved(&app, "课程咨询", "寒假班什么时候报名？").await;
    let event: Value =
        sqlx::query_scalar("SELECT envelope FROM outbox_event WHERE event_type = 'intake.survey.requested'")
            .fetch_one(&app.platform.pool)
            .await
            .expect("event");
    assert_eq!(event["data"]["ticket_id"], id.as_str());
    let token = event["data"]["token"].as_str().expect("token").to_owned();

    let survey: Value = app
        .client
        .get(format!("{}/v1/surveys/{token}", app.url))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(survey["subject"], "课程咨询");
    assert!(survey["answered_at"].is_null());
    let answer = |body: Value, token: String| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/v1/surveys/{token}", app.url))
                .json(&body)
                .send()
                .await
                .expect("send")
        }
    };
    assert_eq!(answer(json!({"score": 6}), token.clone()).await.status(), 422);
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 3.., "abc");
    assert_eq!(answer(json!({"score": 5}), forged).await.status(), 404);
    let res = answer(json!({"score": 5, "comment": "老师很耐心"}), token.clone()).await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        answer(json!({"score": 1}), token.clone()).await.status(),
        409,
        "once per ticket"
    );
    let score: i16 = sqlx::query_scalar("SELECT score FROM survey WHERE ticket_id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.platform.pool)
        .await
        .expect("score");
    assert_eq!(score, 5);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_event WHERE event_type = 'intake.survey.answered'")
            .await,
        1
    );

    // Reopened and resolved again: still one survey.
    let me_id: Uuid = sqlx::query_scalar("SELECT customer_id FROM ticket WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.platform.pool)
        .await
        .expect("customer");
    let me = app.token(me_id, Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    walk(&app, &me, &id, &["reopen"]).await;
    walk(&app, &agent, &id, &["start", "resolve"]).await;
    assert_eq!(app.count("SELECT count(*) FROM survey").await, 1);
}

#[tokio::test]
async fn follow_ups_are_scheduled_after_resolution_and_their_outcome_is_recorded() {
    let app = app().await;
    let technical = resolved(&app, "摄像头打不开", "上课时摄像头打不开，黑屏").await;
    resolved(&app, "课程咨询", "寒假班什么时候报名？").await;
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let list: Value = app.get_json("/v1/follow-ups", &agent).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "only the categories configured for follow-up: {list}");
    assert_eq!(items[0]["ticket_id"], technical.as_str());
    let due: Value = app.get_json("/v1/follow-ups?due=true", &agent).await;
    assert_eq!(due["items"].as_array().map(Vec::len), Some(0), "due tomorrow, not yet");

    let fid = items[0]["id"].as_str().expect("id");
    let path = format!("/v1/follow-ups/{fid}");
    let (bad, _) = app.post_json(&path, &agent, &json!({"outcome": "meh"})).await;
    assert_eq!(bad, 422);
    let body = json!({"outcome": "still_has_issue", "note": "摄像头偶尔还是黑屏"});
    let (status, _) = app.post_json(&path, &agent, &body).await;
    assert_eq!(status, 200);
    let status: String = sqlx::query_scalar("SELECT status FROM ticket WHERE id = $1::uuid")
        .bind(&technical)
        .fetch_one(&app.platform.pool)
        .await
        .expect("status");
    assert_eq!(status, "queued", "an unsolved problem is reopened");
    let (again, _) = app.post_json(&path, &agent, &json!({"outcome": "satisfied"})).await;
    assert_eq!(again, 409);
}
