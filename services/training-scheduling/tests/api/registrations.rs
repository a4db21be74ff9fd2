//! Seats and the waitlist: concurrent registrations, promotions in order, moves, and
//! registrations that are refused with nothing changed.

use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{app, app_with, class, customer, events, first_session, id, supervisor, training};

fn positions(items: &[Value]) -> Vec<i64> {
    let mut p: Vec<i64> = items.iter().filter_map(|r| r["waitlist_position"].as_i64()).collect();
    p.sort_unstable();
    p
}

#[tokio::test]
async fn two_hundred_registrations_at_once_for_fifty_seats_give_fifty_seats_and_an_unbroken_waitlist() {
    let app = app_with(&[
        ("DATABASE__MAX_CONNECTIONS", "20"),
        ("DATABASE__ACQUIRE_TIMEOUT_MS", "60000"),
        ("HTTP__WORKERS", "2"),
    ])
    .await;
    let session = first_session(&training(&app, 50, 30).await);
    let people: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
    let calls = people.iter().map(|p| {
        let app = &app;
        let token = customer(*p);
        async move {
            app.post_json(&format!("/v1/sessions/{session}/registrations"), &token, &json!({}))
                .await
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    assert!(
        answers.iter().all(|(s, _)| *s == 201),
        "{:?}",
        answers.iter().find(|(s, _)| *s != 201)
    );
    let bodies: Vec<Value> = answers.into_iter().map(|(_, b)| b).collect();
    let confirmed: Vec<&Value> = bodies.iter().filter(|b| b["status"] == "confirmed").collect();
    assert_eq!(confirmed.len(), 50);
    assert!(confirmed.iter().all(|b| b["waitlist_position"].is_null()));
    assert_eq!(
        positions(&bodies),
        (1..=150).collect::<Vec<i64>>(),
        "no gap, no duplicate"
    );
    let s = app.get_json(&format!("/v1/sessions/{session}"), &supervisor()).await;
    assert_eq!(
        (s["seats_taken"].as_i64(), s["waitlist_issued"].as_i64()),
        (Some(50), Some(150))
    );
    assert_eq!(events(&app, "training.registration.confirmed").await, 50);
    assert_eq!(events(&app, "training.registration.waitlisted").await, 150);

    // Ten seats given up at once: positions 1..10 take them, in that order.
    let cancels = confirmed.iter().take(10).map(|b| {
        let app = &app;
        let participant: Uuid = b["participant_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("participant");
        let reg = id(b);
        async move {
            app.post_json(
                &format!("/v1/registrations/{reg}/cancel"),
                &customer(participant),
                &json!({"reason": "时间冲突"}),
            )
            .await
        }
    });
    let cancelled = futures_util::future::join_all(cancels).await;
    assert!(cancelled.iter().all(|(s, _)| *s == 200), "{cancelled:?}");
    let promoted: Vec<Value> = cancelled
        .iter()
        .flat_map(|(_, b)| b["promoted"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(positions(&promoted), (1..=10).collect::<Vec<i64>>());
    let waiting = app
        .get_json(
            &format!("/v1/registrations?session_id={session}&status=waitlisted&limit=200"),
            &supervisor(),
        )
        .await;
    let waiting = waiting["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(positions(&waiting), (11..=150).collect::<Vec<i64>>());
    let seated = app
        .get_json(
            &format!("/v1/registrations?session_id={session}&status=confirmed&limit=200"),
            &supervisor(),
        )
        .await;
    assert_eq!(seated["items"].as_array().map(Vec::len), Some(50));
    assert_eq!(events(&app, "training.registration.promoted").await, 10);
    assert_eq!(events(&app, "training.registration.cancelled").await, 10);
    let reasons = app
        .count("SELECT count(*) FROM registration WHERE cancel_reason = '时间冲突' AND cancelled_by IS NOT NULL")
        .await;
    assert_eq!(reasons, 10);
}

#[tokio::test]
async fn a_parent_registers_their_child_and_a_retry_with_the_same_key_registers_once() {
    let app = app().await;
    let session = first_session(&training(&app, 5, 10).await);
    let (parent, child) = (Uuid::new_v4(), Uuid::new_v4());
    let body = json!({"participant_id": child, "guardian_ids": [parent]});
    let path = format!("/v1/sessions/{session}/registrations");
    let key = Uuid::new_v4().to_string();
    let send = || {
        app.post(&path, &customer(parent))
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
    };
    let first: Value = send().await.expect("sent").json().await.expect("json");
    let again = send().await.expect("sent");
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.expect("json");
    assert_eq!(first["id"], again["id"]);
    assert_eq!(app.count("SELECT count(*) FROM registration").await, 1);
    assert_eq!(first["guardian_ids"], json!([parent]));
    // Both the child and the parent read it; another customer does not.
    let r = id(&first);
    for who in [child, parent] {
        assert_eq!(
            app.get_status(&format!("/v1/registrations/{r}"), &customer(who))
                .await
                .0,
            200
        );
    }
    let stranger = customer(Uuid::new_v4());
    assert_eq!(
        app.get_status(&format!("/v1/registrations/{r}"), &stranger).await.0,
        404
    );
    // Registering somebody else's child without being their guardian is not allowed.
    let (status, _) = app
        .post_json(&path, &stranger, &json!({"participant_id": Uuid::new_v4()}))
        .await;
    assert_eq!(status, 403);
    let envelope: Value =
        sqlx::query_scalar("SELECT envelope FROM outbox_event WHERE event_type = 'training.registration.confirmed'")
            .fetch_one(&app.platform.pool)
            .await
            .expect("event");
    assert_eq!(envelope["data"]["participant_id"], json!(child));
    assert_eq!(envelope["data"]["guardian_ids"], json!([parent]));
    assert_eq!(envelope["data"]["session"]["time_zone"], "Asia/Shanghai");
    assert_eq!(envelope["subjectseq"], 1);
}

#[tokio::test]
async fn registrations_for_past_cancelled_or_class_sessions_and_twice_are_refused_with_nothing_changed() {
    let app = app().await;
    let session = first_session(&training(&app, 5, 10).await);
    let me = Uuid::new_v4();
    let path = format!("/v1/sessions/{session}/registrations");
    assert_eq!(app.post_json(&path, &customer(me), &json!({})).await.0, 201);
    let (status, problem) = app.post_json(&path, &customer(me), &json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("already_registered")));
    let (status, problem) = app
        .post_json(
            &path,
            &customer(Uuid::new_v4()),
            &json!({"guardian_ids": ["not-a-uuid"]}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    // A class's sessions come with an enrolment.
    let class = class(&app, "math-x", 2).await;
    let (status, problem) = app
        .post_json(
            &format!("/v1/sessions/{}/registrations", first_session(&class)),
            &customer(me),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("not_enrolled")),
        "{problem}"
    );
    // A cancelled session.
    let other = first_session(&training(&app, 5, 12).await);
    let (status, _) = app
        .post_json(
            &format!("/v1/sessions/{other}/cancel"),
            &supervisor(),
            &json!({"reason": "讲师生病"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, problem) = app
        .post_json(
            &format!("/v1/sessions/{other}/registrations"),
            &customer(me),
            &json!({}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("session_cancelled")));
    // A past session (the clock moves beyond it).
    app.platform.clock.advance(chrono::Duration::days(11)).expect("advance");
    let (status, problem) = app.post_json(&path, &customer(Uuid::new_v4()), &json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("session_started")));
    // An unknown session.
    let (status, _) = app
        .post_json(
            &format!("/v1/sessions/{}/registrations", Uuid::new_v4()),
            &customer(me),
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.count("SELECT count(*) FROM registration").await, 1);
    assert_eq!(app.count("SELECT sum(seats_taken) FROM session").await, 1);
}

#[tokio::test]
async fn a_staff_training_is_for_staff_and_the_front_desk_registers_on_behalf() {
    let app = app().await;
    let (status, created) = app
        .post_json(
            "/v1/trainings",
            &supervisor(),
            &json!({
                "kind": "staff_training", "title": "季度进阶培训", "mode": "online",
                "meeting_url": "https://meeting.example.com/j/2", "capacity": 10, "time_zone": "Asia/Shanghai",
                "starts_at": "2030-02-01T09:00:00+08:00", "ends_at": "2030-02-01T11:00:00+08:00"
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let session = first_session(&created);
    let path = format!("/v1/sessions/{session}/registrations");
    let agent = testkit::token(Uuid::new_v4(), Role::Agent);
    let (status, body) = app.post_json(&path, &agent, &json!({})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["participant_kind"], "staff");
    let (status, problem) = app.post_json(&path, &customer(Uuid::new_v4()), &json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("not_for_participant")));
    let front_desk = super::staff(&[platform::auth::StaffFunction::FrontDesk]);
    let colleague = Uuid::new_v4();
    let (status, body) = app
        .post_json(&path, &front_desk, &json!({"participant_id": colleague}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["participant_id"], json!(colleague));
}

#[tokio::test]
async fn moving_to_another_session_frees_the_old_seat_for_the_waitlist() {
    let app = app().await;
    let (status, created) = app
        .post_json(
            "/v1/trainings",
            &supervisor(),
            &json!({
                "kind": "customer_training", "title": "家长端使用培训", "audience": ["parents"], "mode": "online",
                "meeting_url": "https://meeting.example.com/j/3", "capacity": 1, "time_zone": "Asia/Shanghai",
                "starts_at": "2030-02-05T19:00:00+08:00", "ends_at": "2030-02-05T20:00:00+08:00",
                "recurrence": "FREQ=WEEKLY;COUNT=2"
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (first, second) = (id(&created["sessions"][0]), id(&created["sessions"][1]));
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let path = format!("/v1/sessions/{first}/registrations");
    let (_, seat) = app.post_json(&path, &customer(a), &json!({})).await;
    let (_, waiting) = app.post_json(&path, &customer(b), &json!({})).await;
    assert_eq!(
        (seat["status"].as_str(), waiting["status"].as_str()),
        (Some("confirmed"), Some("waitlisted"))
    );
    let (status, moved) = app
        .post_json(
            &format!("/v1/registrations/{}/move", id(&seat)),
            &customer(a),
            &json!({"session_id": second, "reason": "下周更方便"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["registration"]["session_id"], json!(second));
    assert_eq!(moved["registration"]["status"], "confirmed");
    assert_eq!(moved["promoted"][0]["participant_id"], json!(b));
    let old = app
        .get_json(&format!("/v1/registrations/{}", id(&seat)), &customer(a))
        .await;
    assert_eq!(old["status"], "cancelled");
    assert_eq!(old["cancel_reason"], "下周更方便");
    assert_eq!(old["rescheduled_to"], moved["registration"]["id"]);
    // A session of another training is refused.
    let elsewhere = first_session(&training(&app, 5, 40).await);
    let (status, problem) = app
        .post_json(
            &format!(
                "/v1/registrations/{}/move",
                moved["registration"]["id"].as_str().unwrap_or_default()
            ),
            &customer(a),
            &json!({"session_id": elsewhere, "reason": "x"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(testkit::problem_fields(&problem), ["session_id"]);
}
