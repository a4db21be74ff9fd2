//! Channels: email threading, duplicates across channels, rate limits, fault records.

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::{TestApp, problem_fields};
use uuid::Uuid;

use super::{app, app_with};

async fn mail(app: &TestApp, body: Value) -> (u16, Value) {
    let token = testkit::service_token(Uuid::new_v4(), &["email:inbound"]);
    app.post_json("/v1/inbound/email", &token, &body).await
}

#[tokio::test]
async fn email_opens_a_ticket_and_replies_thread_into_it_by_message_id_or_subject_token() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let service = testkit::service_token(Uuid::new_v4(), &["customers:write"]);
    let body = json!({"role": "student", "contacts": [{"channel": "email", "address": "li@example.com"}]});
    let (put, _) = app
        .put_json(&format!("/v1/customers/{customer}"), &service, &body)
        .await;
    assert_eq!(put, 201);

    let (status, first) = mail(
        &app,
        json!({"message_id": "<m1@example.com>", "from": "LI@example.com", "subject": "Certificate download",
               "body": "Where can I download my course certificate?"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(first["outcome"], "created");
    assert_eq!(
        first["customer_id"],
        customer.to_string(),
        "found by the sender's address"
    );
    let number = first["ticket_number"].as_i64().expect("number");

    let (status, again) = mail(
        &app,
        json!({"message_id": "<m1@example.com>", "from": "li@example.com", "subject": "Certificate download",
               "body": "Where can I download my course certificate?"}),
    )
    .await;
    assert_eq!((status, again["outcome"].as_str()), (200, Some("duplicate")));

    let (_, by_header) = mail(
        &app,
        json!({"message_id": "<m2@example.com>", "in_reply_to": "<m1@example.com>", "from": "li@example.com",
               "subject": "Re: Certificate download", "body": "Any news?"}),
    )
    .await;
    assert_eq!(by_header["outcome"], "threaded");
    assert_eq!(by_header["ticket_id"], first["ticket_id"]);
    let (_, by_token) = mail(
        &app,
        json!({"message_id": "<m3@other.example>", "from": "li@example.com",
               "subject": format!("Re: [#{number}] your ticket"), "body": "Still waiting for the certificate."}),
    )
    .await;
    assert_eq!(by_token["outcome"], "threaded");
    assert_eq!(by_token["ticket_id"], first["ticket_id"]);
    assert_eq!(app.count("SELECT count(*) FROM ticket").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM ticket_message WHERE channel = 'email' AND author_role = 'customer'")
            .await,
        2
    );

    // A stranger's token in the subject does not put mail into someone else's ticket.
    let (status, stranger) = mail(
        &app,
        json!({"message_id": "<x1@evil.example>", "from": "someone@evil.example",
               "subject": format!("Re: [#{number}]"), "body": "Please refund me to this new account"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(stranger["ticket_id"], first["ticket_id"]);
    let (_, stranger_again) = mail(
        &app,
        json!({"message_id": "<x2@evil.example>", "from": "someone@evil.example", "subject": "Another question",
               "body": "Different question about the timetable"}),
    )
    .await;
    assert_eq!(
        stranger_again["customer_id"], stranger["customer_id"],
        "one guest id per address"
    );

    let (status, bad) = mail(
        &app,
        json!({"message_id": "", "from": "nobody", "subject": "x", "body": "y"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(bad["errors"].as_array().map(Vec::len), Some(2));
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let body = json!({"message_id": "<a@b.c>", "from": "a@b.c", "subject": "x", "body": "y"});
    let (forbidden, _) = app.post_json("/v1/inbound/email", &agent, &body).await;
    assert_eq!(forbidden, 403);
}

#[tokio::test]
async fn the_same_question_on_another_channel_is_merged_into_the_open_ticket() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let ask = |channel: &'static str, subject: &'static str| {
        let app = &app;
        let me = me.clone();
        let body = if subject.contains("退费") {
            "我想申请退费，钱什么时候退回到账？"
        } else {
            "我报名的雅思冲刺班什么时候开课？上课时间是几点？"
        };
        async move {
            app.post_json(
                "/v1/tickets",
                &me,
                &json!({"channel": channel, "subject": subject, "body": body}),
            )
            .await
        }
    };
    let (status, first) = ask("web", "雅思冲刺班开课时间").await;
    assert_eq!(status, 201);
    let (status, merged) = ask("chat", "雅思冲刺班开课时间").await;
    assert_eq!(status, 200, "merged");
    assert_eq!(merged["id"], first["id"]);
    let (status, same_channel) = ask("web", "雅思冲刺班开课时间").await;
    assert_eq!(
        status, 201,
        "a repeat on the same channel is a new contact, not a merge"
    );
    assert_ne!(same_channel["id"], first["id"]);
    let thread: Value = app
        .get_json(
            &format!("/v1/tickets/{}/messages", first["id"].as_str().expect("id")),
            &me,
        )
        .await;
    assert_eq!(thread["items"][0]["channel"], "chat");
    let (status, different) = ask("email", "退费申请").await;
    assert_eq!(
        status, 201,
        "another question on another channel is a ticket of its own"
    );
    assert_ne!(different["id"], first["id"]);
}

#[tokio::test]
async fn too_many_creates_from_one_customer_get_429_with_retry_after() {
    let app = app_with(&[("INTAKE__SERVICE__CREATE_LIMIT", "2")]).await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..3 {
        let res = app
            .post("/v1/tickets", &me)
            .json(&json!({"channel": "web", "subject": format!("question {i}"), "body": format!("different question number {i}")}))
            .send()
            .await
            .expect("send");
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let problem: Value = res.json().await.expect("json");
            assert_eq!(problem["status"], 429);
        }
    }
    assert_eq!(statuses, [201, 201, 429]);
    let secs: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&secs));
    assert_eq!(
        app.count("SELECT count(*) FROM ticket").await,
        2,
        "the refused one changed nothing"
    );
    let other = app.token(Uuid::new_v4(), Role::Customer);
    let body = json!({"channel": "web", "subject": "q", "body": "another customer"});
    let (status, _) = app.post_json("/v1/tickets", &other, &body).await;
    assert_eq!(status, 201, "limits are per customer");
}

#[tokio::test]
async fn technical_tickets_carry_a_fault_record_given_or_inferred() {
    let app = app().await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let body = json!({"channel": "phone", "customer_id": Uuid::new_v4(), "subject": "Camera not detected",
        "body": "The classroom says no camera found",
        "fault": {"symptom": "No camera in the classroom", "device": "Windows 11 laptop",
        "environment": "Chrome 120", "steps_tried": ["restarted", "reinstalled drivers"],
        "fault_type": "hardware"}});
    let (_, given) = app.post_json("/v1/tickets", &agent, &body).await;
    assert_eq!(given["classification"]["category"], "technical");
    assert_eq!(given["fault"]["device"], "Windows 11 laptop");
    assert_eq!(
        given["fault"]["steps_tried"],
        json!(["restarted", "reinstalled drivers"])
    );
    assert_eq!(given["classification"]["fault_type"], "hardware");

    let body = json!({"channel": "web", "subject": "直播课一直转圈", "body": "家里wifi正常，但是进教室一直加载，网络好像断开"});
    let (_, inferred) = app.post_json("/v1/tickets", &me, &body).await;
    assert_eq!(inferred["classification"]["category"], "technical");
    assert_eq!(inferred["classification"]["fault_type"], "network");
    assert_eq!(inferred["fault"]["symptom"], "直播课一直转圈");
    assert!(
        inferred["classification"]["explanation"]["fault_terms"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );

    let body =
        json!({"channel": "web", "subject": "x", "body": "y", "fault": {"fault_type": "cosmic", "steps_tried": ["a"]}});
    let (status, problem) = app.post_json("/v1/tickets", &me, &body).await;
    assert_eq!(status, 422);
    assert_eq!(problem_fields(&problem)[0], "fault.fault_type");
}
