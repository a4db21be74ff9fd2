//! Who may call what: every route declares it once, as its OpenAPI operation's security
//! requirement, and the kernel enforces that declaration before the handler runs.
//!
//! ```text
//! #[utoipa::path(post, path = "/v1/messages",
//!     security(("bearer" = ["admin"]), ("bearer" = ["service", "notifications:send"])), …)]
//! ```
//!
//! As in OpenAPI 3.1, any one requirement suffices and every name in it must be held. A name
//! is a role (`customer`, `agent`, `supervisor`, `admin`, `staff`, `service`), a staff function
//! (`class_advisor`, `trainer`, `consultant`, `front_desk`) or a scope (`area:action`, held by
//! service tokens). `security(())` marks a public route. An operation without a declaration,
//! or with a name that is none of these, stops the service at start-up; a `/v1` route missing
//! from the document is refused to every caller. Handlers keep the checks that depend on the
//! record (another customer's ticket is 404).
//!
//! The kernel also completes each operation's responses with the statuses it produces itself
//! (401 and 403 on guarded routes; 400, 413, 415 and 422 where a body is read; 400 for
//! malformed parameters; 503 while a dependency is away), so the document lists every status a
//! route can return.

use std::collections::HashMap;

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use serde_json::Value;

use crate::auth::{Principal, Role, StaffFunction, authenticate, is_scope};
use crate::error::ApiError;
use crate::problems::problem_response;

/// One requirement: every name must be held.
type Requirement = Vec<String>;

/// What one operation needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Anyone, with or without a token.
    Public,
    /// A caller meeting one of the requirements.
    AnyOf(Vec<Requirement>),
}

impl Access {
    /// The access an operation's `security` list (OpenAPI JSON) declares.
    pub fn from_security(security: &[Value]) -> Self {
        let mut reqs = Vec::new();
        for requirement in security {
            let Some(schemes) = requirement.as_object() else {
                continue;
            };
            if schemes.is_empty() {
                return Self::Public;
            }
            reqs.push(
                schemes
                    .values()
                    .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            );
        }
        Self::AnyOf(reqs)
    }

    /// Every name the requirements mention (roles, functions, scopes).
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Public => Vec::new(),
            Self::AnyOf(reqs) => reqs.iter().flatten().cloned().collect(),
        }
    }

    pub fn allows(&self, principal: &Principal) -> bool {
        match self {
            Self::Public => true,
            Self::AnyOf(reqs) => reqs.iter().any(|names| names.iter().all(|n| principal.holds(n))),
        }
    }

    /// The requirements in words, for a 403's detail: `admin, or service with notifications:send`.
    pub fn describe(&self) -> String {
        match self {
            Self::Public => "anyone".to_owned(),
            Self::AnyOf(reqs) => reqs
                .iter()
                .map(|names| match names.split_first() {
                    Some((first, rest)) if !rest.is_empty() => format!("{first} with {}", rest.join(" and ")),
                    Some((first, _)) => first.clone(),
                    None => "any signed-in caller".to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", or "),
        }
    }
}

/// Every operation's access, by method and path template (as actix matches them).
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    routes: HashMap<(Method, String), Access>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn is_known_name(name: &str) -> bool {
    Role::parse(name).is_some() || StaffFunction::parse(name).is_some() || is_scope(name)
}

impl AccessTable {
    /// Reads every operation's declaration from the service's OpenAPI document.
    pub fn from_openapi(doc: &Value) -> anyhow::Result<Self> {
        let mut routes = HashMap::new();
        let mut problems = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let at = format!("{} {path}", method.to_uppercase());
                let Some(security) = op.get("security").and_then(Value::as_array) else {
                    problems.push(format!("{at} declares no security (who may call it)"));
                    continue;
                };
                let access = Access::from_security(security);
                if let Access::AnyOf(reqs) = &access
                    && let Some(bad) = reqs.iter().flatten().find(|n| !is_known_name(n))
                {
                    problems.push(format!("{at}: `{bad}` is not a role, staff function or scope"));
                }
                let method = Method::from_bytes(method.to_uppercase().as_bytes())?;
                routes.insert((method, path.clone()), access);
            }
        }
        if problems.is_empty() {
            Ok(Self { routes })
        } else {
            anyhow::bail!("the OpenAPI document's access declarations: {}", problems.join("; "))
        }
    }

    /// The access of `method` on the route matched by `template`; `None` when undeclared.
    pub fn get(&self, method: &Method, template: &str) -> Option<&Access> {
        self.routes.get(&(method.clone(), template.to_owned()))
    }

    fn knows_path(&self, template: &str) -> bool {
        self.routes.keys().any(|(_, p)| p == template)
    }

    /// Checks `req` against its route's declaration: 401 without a valid token, 403 when the
    /// caller holds none of the requirements. The verified caller is kept for the handler's
    /// `Principal` extractor.
    pub fn check(&self, req: &ServiceRequest) -> Result<(), ApiError> {
        let Some(template) = req.match_pattern() else {
            return Ok(()); // no route: the 404 handler answers
        };
        let access = match self.get(req.method(), &template) {
            Some(access) => access,
            // A documented path with another method: routing answers 404/405.
            None if self.knows_path(&template) || !template.starts_with("/v1/") => return Ok(()),
            None => {
                tracing::error!(route = %template, "a /v1 route is missing from the OpenAPI document; refused");
                return Err(ApiError::forbidden("this route declares no access"));
            }
        };
        if *access == Access::Public {
            return Ok(());
        }
        let principal = authenticate(req.request())?;
        if !access.allows(&principal) {
            return Err(ApiError::forbidden(format!("requires {}", access.describe())));
        }
        req.extensions_mut().insert(principal);
        Ok(())
    }
}

/// Adds to every operation the statuses the kernel itself answers with, where the operation
/// does not list them already.
pub fn complete_responses(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let path_params = item
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
        for method in METHODS {
            let Some(op) = item.get_mut(method) else { continue };
            let guarded = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
            let has_body = op.get("requestBody").is_some();
            let has_params = path_params
                || op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|p| !p.is_empty());
            let mut add = vec![("503", "Not available right now; try again")];
            if guarded {
                add.push(("401", "No valid token"));
                add.push(("403", "Not allowed for the caller"));
            }
            if has_body {
                add.push(("400", "The request cannot be read"));
                add.push(("413", "The body is too large"));
                add.push(("415", "The body must be application/json"));
                add.push(("422", "Invalid fields"));
            } else if has_params {
                add.push(("400", "A malformed parameter"));
            }
            let responses = op.as_object_mut().map(|o| {
                o.entry("responses")
                    .or_insert_with(|| Value::Object(Default::default()))
            });
            if let Some(Value::Object(responses)) = responses {
                for (status, description) in add {
                    if !responses.contains_key(status) {
                        let response = serde_json::to_value(problem_response(description)).unwrap_or(Value::Null);
                        responses.insert(status.to_owned(), response);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn doc(security: Value) -> Value {
        json!({"paths": {"/v1/things/{id}": {"get": {"security": security, "responses": {"200": {"description": "ok"}}}}}})
    }

    #[test]
    fn any_one_requirement_suffices_and_each_name_in_it_is_needed() {
        let table = AccessTable::from_openapi(&doc(
            json!([{"bearer": ["admin"]}, {"bearer": ["service", "notifications:send"]}]),
        ))
        .expect("parses");
        let access = table.get(&Method::GET, "/v1/things/{id}").expect("declared");
        let admin = Principal::new(Uuid::new_v4(), &[Role::Admin]);
        let bare_service = Principal::new(Uuid::new_v4(), &[Role::Service]);
        let sender = bare_service.clone().with_scopes(&["notifications:send"]);
        assert!(access.allows(&admin) && access.allows(&sender) && !access.allows(&bare_service));
        assert_eq!(access.describe(), "admin, or service with notifications:send");
        let trainer = AccessTable::from_openapi(&doc(json!([{"bearer": ["trainer"]}]))).expect("parses");
        let access = trainer.get(&Method::GET, "/v1/things/{id}").expect("declared");
        let staff = Principal::new(Uuid::new_v4(), &[Role::Staff]);
        assert!(!access.allows(&staff));
        assert!(access.allows(&staff.with_functions(&[StaffFunction::Trainer])));
    }

    #[test]
    fn an_operation_without_a_declaration_or_with_an_unknown_name_is_refused() {
        let missing = json!({"paths": {"/v1/x": {"get": {"responses": {}}}}});
        let err = AccessTable::from_openapi(&missing)
            .expect_err("no security")
            .to_string();
        assert!(err.contains("GET /v1/x declares no security"), "{err}");
        let err = AccessTable::from_openapi(&doc(json!([{"bearer": ["root"]}])))
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("`root`"), "{err}");
        let public = AccessTable::from_openapi(&doc(json!([{}]))).expect("parses");
        assert_eq!(public.get(&Method::GET, "/v1/things/{id}"), Some(&Access::Public));
    }

    #[test]
    fn the_kernel_statuses_are_added_without_replacing_the_routes_own() {
        let mut d = json!({"paths": {"/v1/things/{id}": {
            "parameters": [{"name": "id", "in": "path"}],
            "get": {"security": [{"bearer": ["agent"]}], "responses": {"403": {"description": "own words"}}},
            "put": {"security": [{"bearer": ["agent"]}], "requestBody": {}, "responses": {}},
        }, "/v1/open": {"get": {"security": [{}], "responses": {}}}}});
        complete_responses(&mut d);
        let get = &d["paths"]["/v1/things/{id}"]["get"]["responses"];
        assert_eq!(get["403"]["description"], "own words");
        assert!(get["401"].is_object() && get["400"].is_object() && get["503"].is_object());
        let put = &d["paths"]["/v1/things/{id}"]["put"]["responses"];
        for status in ["400", "401", "403", "413", "415", "422", "503"] {
            assert!(
                put[status]["content"]["application/problem+json"].is_object(),
                "{status}"
            );
        }
        let open = &d["paths"]["/v1/open"]["get"]["responses"];
        assert!(open.get("401").is_none() && open.get("400").is_none() && open["503"].is_object());
    }
}
