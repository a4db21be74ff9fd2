//! The roles × routes matrix, generated from a running service's OpenAPI document: every
//! operation is called as every kind of caller, and the answer must match what the operation
//! declares (`security`): 401 without a token, 403 for a caller the declaration leaves out, and
//! for a caller it lets in neither 401 nor 403 (nor a server error, nor a status the operation
//! does not document). A route joins the matrix by being in the document.
//!
//! Records that belong to someone are checked with [`Owned`] cases: the owner is answered, and
//! another caller of the same kind gets 404 (not 403: whether a record exists is not told).

use std::collections::BTreeSet;

use platform::access::Access;
use platform::auth::{Principal, Role, StaffFunction};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::{TestApp, token_for};

/// A kind of caller the matrix uses.
#[derive(Debug, Clone)]
pub struct Persona {
    pub label: String,
    pub principal: Principal,
}

/// Every kind of caller a document's declarations can tell apart: each role, staff with each
/// function, a service with no scope and one with every scope the document names.
pub fn personas(doc: &Value) -> Vec<Persona> {
    let mut out: Vec<Persona> = Role::ALL
        .iter()
        .map(|r| Persona {
            label: r.name().to_owned(),
            principal: Principal::new(Uuid::new_v4(), &[*r]),
        })
        .collect();
    for f in StaffFunction::ALL {
        out.push(Persona {
            label: format!("staff+{}", f.name()),
            principal: Principal::new(Uuid::new_v4(), &[Role::Staff]).with_functions(&[f]),
        });
    }
    let scopes: BTreeSet<String> = operations(doc)
        .iter()
        .flat_map(|op| op.access.names())
        .filter(|n| n.contains(':'))
        .collect();
    for scope in &scopes {
        out.push(Persona {
            label: format!("service+{scope}"),
            principal: Principal::new(Uuid::new_v4(), &[Role::Service]).with_scopes(&[scope.as_str()]),
        });
    }
    out
}

/// One operation of the document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    pub template: String,
    pub access: Access,
    pub has_body: bool,
    pub statuses: BTreeSet<u16>,
    /// Answers with a stream (excluded from calls that would hold the connection).
    pub streaming: bool,
}

pub fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let security: Vec<Value> = op["security"].as_array().cloned().unwrap_or_default();
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            out.push(Operation {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap_or(Method::GET),
                template: path.clone(),
                access: Access::from_security(&security),
                has_body: op.get("requestBody").is_some(),
                statuses: responses.keys().filter_map(|k| k.parse().ok()).collect(),
                streaming: responses
                    .values()
                    .any(|r| r["content"].get("text/event-stream").is_some()),
            });
        }
    }
    out
}

/// `template` with each `{param}` replaced by a fresh UUID.
fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        out.push_str(&Uuid::new_v4().to_string());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn call(app: &TestApp, op: &Operation, path: &str, token: Option<&str>, body: Option<&Value>) -> u16 {
    let mut req = app.client.request(op.method.clone(), format!("{}{path}", app.url));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if op.has_body {
        req = req.json(body.unwrap_or(&json!({})));
    }
    req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// Calls every operation of `app`'s document as every persona; panics listing every mismatch.
/// Returns how many calls it made.
pub async fn check_every_route(app: &TestApp) -> usize {
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("openapi json");
    let ops = operations(&doc);
    assert!(!ops.is_empty(), "the document lists no operations");
    let personas = personas(&doc);
    let mut failures = Vec::new();
    let mut calls = 0;
    for op in ops.iter().filter(|o| !o.streaming) {
        let at = format!("{} {}", op.method, op.template);
        let path = fill(&op.template);
        if op.access != Access::Public {
            let status = call(app, op, &path, None, None).await;
            calls += 1;
            if status != 401 {
                failures.push(format!("{at} without a token: {status}, expected 401"));
            }
        }
        for persona in &personas {
            let token = token_for(&persona.principal);
            let status = call(app, op, &path, Some(&token), None).await;
            calls += 1;
            let allowed = op.access.allows(&persona.principal);
            let who = &persona.label;
            if !allowed && status != 403 {
                failures.push(format!(
                    "{at} as {who}: {status}, expected 403 ({})",
                    op.access.describe()
                ));
            }
            if allowed && matches!(status, 0 | 401 | 403 | 500..) {
                failures.push(format!("{at} as {who}: {status}, expected to be let in"));
            }
            if !op.statuses.contains(&status) {
                failures.push(format!("{at} as {who}: {status} is not documented ({:?})", op.statuses));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    calls
}

/// A record that belongs to someone: its owner is answered (2xx) and `stranger`, a caller of
/// the same kind, gets 404.
pub struct Owned<'a> {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    pub owner: &'a str,
    pub stranger: &'a str,
}

/// Checks each owned record: 2xx for the owner, 404 for the stranger. The stranger is asked
/// first, so a mutating call is refused before the owner's changes the record.
pub async fn check_owned(app: &TestApp, cases: &[Owned<'_>]) {
    let mut failures = Vec::new();
    for case in cases {
        let at = format!("{} {}", case.method, case.path);
        let send = |token: &str| {
            let mut req = app
                .client
                .request(case.method.clone(), format!("{}{}", app.url, case.path))
                .bearer_auth(token);
            if let Some(body) = &case.body {
                req = req.json(body);
            }
            req.send()
        };
        let stranger = send(case.stranger).await.map(|r| r.status().as_u16()).unwrap_or(0);
        if stranger != 404 {
            failures.push(format!("{at} as another owner: {stranger}, expected 404"));
        }
        let owner = send(case.owner).await.map(|r| r.status().as_u16()).unwrap_or(0);
        if !(200..300).contains(&owner) {
            failures.push(format!("{at} as its owner: {owner}, expected 2xx"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
