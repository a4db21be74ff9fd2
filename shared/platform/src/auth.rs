//! Bearer JWT authentication: who calls, with which roles, staff functions and scopes.
//!
//! Tokens are HS256-signed JWTs with `sub` (a UUID), `roles`, `iat` and `exp`; `nbf`, `iss` and
//! `aud` are checked. Roles stay few (see [`Role`]); what a member of staff does is a
//! [`StaffFunction`] of their profile (`functions`); a calling service holds only the scopes it
//! needs (`scopes`, such as `notifications:send`). What each route needs is declared once, in its
//! OpenAPI operation, and enforced by [`crate::access`]. The [`Principal`] extractor is the one
//! place a handler learns who calls.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Agent,
    Supervisor,
    Admin,
    /// A member of staff who does not work the support desk (class advisors, trainers,
    /// consultants, front desk): what they may do comes from their [`StaffFunction`]s.
    Staff,
    /// Another system (a service or the company's back office) calling machine-to-machine; what
    /// it may do comes from its scopes.
    Service,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Self::Customer,
        Self::Agent,
        Self::Supervisor,
        Self::Admin,
        Self::Staff,
        Self::Service,
    ];

    /// The support desk: agents, supervisors and admins (who work tickets).
    pub const DESK: [Role; 3] = [Self::Agent, Self::Supervisor, Self::Admin];

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// The name tokens and security requirements use (`"supervisor"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
            Self::Staff => "staff",
            Self::Service => "service",
        }
    }
}

/// What a member of staff does besides (or instead of) the support desk: an attribute of their
/// staff profile, carried in the token's `functions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffFunction {
    /// Looks after a class's students (班主任).
    ClassAdvisor,
    /// Teaches and trains: runs sessions and takes attendance.
    Trainer,
    /// Education consultant: enrolments and course advice.
    Consultant,
    /// Front desk: receives visitors and books on their behalf.
    FrontDesk,
}

impl StaffFunction {
    pub const ALL: [StaffFunction; 4] = [Self::ClassAdvisor, Self::Trainer, Self::Consultant, Self::FrontDesk];

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::ClassAdvisor => "class_advisor",
            Self::Trainer => "trainer",
            Self::Consultant => "consultant",
            Self::FrontDesk => "front_desk",
        }
    }
}

/// Whether `s` is a scope name: `area:action`, lowercase letters, digits, `_` and `-`.
pub fn is_scope(s: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    s.len() <= 64 && s.split_once(':').is_some_and(|(a, b)| ok(a) && ok(b))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<Role>,
    /// The staff profile's functions (staff tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<StaffFunction>,
    /// What a calling service may do (service tokens only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Checks bearer tokens; shared by every worker.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    max_age_secs: u64,
    leeway_secs: u64,
}

impl JwtVerifier {
    pub fn new(settings: &AuthSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = settings.leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(&[iss]);
        }
        match &settings.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Self {
            key: DecodingKey::from_secret(settings.jwt_secret.expose_secret().as_bytes()),
            validation,
            max_age_secs: settings.max_token_age_secs,
            leeway_secs: settings.leeway_secs,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| ApiError::unauthorized(format!("invalid bearer token: {e}")))?;
        let subject =
            Uuid::parse_str(&data.claims.sub).map_err(|_| ApiError::unauthorized("token subject is not a UUID"))?;
        if data.claims.roles.is_empty() {
            return Err(ApiError::unauthorized("token has no roles"));
        }
        if self.max_age_secs > 0 {
            let issued = data
                .claims
                .iat
                .ok_or_else(|| ApiError::unauthorized("token has no `iat` (issued-at)"))?;
            let age = chrono::Utc::now().timestamp().saturating_sub(issued);
            let max = i64::try_from(self.max_age_secs.saturating_add(self.leeway_secs)).unwrap_or(i64::MAX);
            if age > max {
                return Err(ApiError::unauthorized("token is older than the maximum token age"));
            }
        }
        let Claims {
            roles,
            functions,
            scopes,
            ..
        } = data.claims;
        if !scopes.is_empty() && !roles.contains(&Role::Service) {
            return Err(ApiError::unauthorized("only service tokens carry scopes"));
        }
        if let Some(bad) = scopes.iter().find(|s| !is_scope(s)) {
            return Err(ApiError::unauthorized(format!("`{bad}` is not a scope (area:action)")));
        }
        Ok(Principal {
            subject,
            roles,
            functions,
            scopes,
        })
    }
}

/// Signs tokens: for development (`make token`) and tests.
pub struct TokenIssuer {
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
}

impl TokenIssuer {
    pub fn new(settings: &AuthSettings) -> Self {
        Self::from_secret(
            settings.jwt_secret.expose_secret(),
            settings.issuer.clone(),
            settings.audience.clone(),
        )
    }

    pub fn from_secret(secret: &str, issuer: Option<String>, audience: Option<String>) -> Self {
        Self {
            key: EncodingKey::from_secret(secret.as_bytes()),
            issuer,
            audience,
        }
    }

    pub fn issue(&self, subject: Uuid, roles: &[Role], ttl_secs: i64) -> anyhow::Result<String> {
        self.issue_for(&Principal::new(subject, roles), ttl_secs)
    }

    /// A token carrying `principal`'s subject, roles, functions and scopes.
    pub fn issue_for(&self, principal: &Principal, ttl_secs: i64) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: principal.subject.to_string(),
            roles: principal.roles.clone(),
            functions: principal.functions.clone(),
            scopes: principal.scopes.clone(),
            exp: now + ttl_secs,
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.key,
        )?)
    }
}

/// Who is calling: the verified token's subject, roles, staff functions and scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: Uuid,
    pub roles: Vec<Role>,
    pub functions: Vec<StaffFunction>,
    pub scopes: Vec<String>,
}

impl Principal {
    /// A caller with `roles` and no functions or scopes.
    pub fn new(subject: Uuid, roles: &[Role]) -> Self {
        Self {
            subject,
            roles: roles.to_vec(),
            functions: Vec::new(),
            scopes: Vec::new(),
        }
    }

    pub fn with_functions(mut self, functions: &[StaffFunction]) -> Self {
        self.functions = functions.to_vec();
        self
    }

    pub fn with_scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    pub fn has_function(&self, function: StaffFunction) -> bool {
        self.functions.contains(&function)
    }

    /// A service holding `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.has(Role::Service) && self.scopes.iter().any(|s| s == scope)
    }

    /// The support desk: agents, supervisors and admins.
    pub fn is_desk(&self) -> bool {
        self.has_any(&Role::DESK)
    }

    /// The desk or one of the platform's services: callers that act on any customer's records.
    pub fn is_desk_or_service(&self) -> bool {
        self.is_desk() || self.has(Role::Service)
    }

    /// Whether the caller may read a record of `customer_id`: that customer, the desk or a
    /// service.
    pub fn may_read_customer(&self, customer_id: impl Into<Uuid>) -> bool {
        self.is_desk_or_service() || self.subject == customer_id.into()
    }

    /// Whether the caller holds `name`: a role, a staff function or (a service) a scope.
    pub fn holds(&self, name: &str) -> bool {
        if is_scope(name) {
            return self.has_scope(name);
        }
        Role::parse(name).is_some_and(|r| self.has(r))
            || StaffFunction::parse(name).is_some_and(|f| self.has_function(f))
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The access check already verified the token of a route that needs one.
        if let Some(p) = req.extensions().get::<Principal>() {
            return ready(Ok(p.clone()));
        }
        ready(authenticate(req))
    }
}

/// The caller of `req`, from its bearer token: 401 without a valid one.
pub fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let verifier = req
        .app_data::<web::Data<JwtVerifier>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("JwtVerifier missing from app data")))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
    verifier.verify(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn settings(issuer: Option<&str>) -> AuthSettings {
        AuthSettings {
            jwt_secret: SecretString::from("a-test-signing-key-that-is-long-enough!!"),
            issuer: issuer.map(str::to_owned),
            audience: None,
            leeway_secs: 0,
            max_token_age_secs: 86_400,
        }
    }

    #[test]
    fn a_signed_token_verifies_with_its_roles() {
        let s = settings(Some("edu"));
        let sub = Uuid::new_v4();
        let token = TokenIssuer::new(&s).issue(sub, &[Role::Agent], 60).expect("sign");
        let p = JwtVerifier::new(&s).verify(&token).expect("verify");
        assert_eq!(p.subject, sub);
        assert!(p.has(Role::Agent) && p.is_desk() && !p.has(Role::Customer));
        assert!(!p.holds("supervisor") && p.holds("agent"));
    }

    #[test]
    fn expired_wrong_key_or_wrong_issuer_is_refused() {
        let s = settings(Some("edu"));
        let sub = Uuid::new_v4();
        let expired = TokenIssuer::new(&s).issue(sub, &[Role::Customer], -120).expect("sign");
        assert!(JwtVerifier::new(&s).verify(&expired).is_err());
        let other = TokenIssuer::from_secret("another-key-another-key-another-key!", Some("edu".into()), None)
            .issue(sub, &[Role::Customer], 60)
            .expect("sign");
        assert!(JwtVerifier::new(&s).verify(&other).is_err());
        let foreign = TokenIssuer::new(&settings(Some("elsewhere")))
            .issue(sub, &[Role::Customer], 60)
            .expect("sign");
        assert!(JwtVerifier::new(&s).verify(&foreign).is_err());
    }

    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"a-test-signing-key-that-is-long-enough!!"),
        )
        .expect("sign")
    }

    #[test]
    fn a_token_not_valid_yet_or_older_than_the_maximum_age_is_refused() {
        let s = settings(None);
        let now = chrono::Utc::now().timestamp();
        let sub = Uuid::new_v4().to_string();
        let fine = signed(serde_json::json!({"sub": sub, "roles": ["agent"], "iat": now, "exp": now + 600}));
        assert!(JwtVerifier::new(&s).verify(&fine).is_ok());
        let early = signed(
            serde_json::json!({"sub": sub, "roles": ["agent"], "iat": now, "nbf": now + 600, "exp": now + 1200}),
        );
        assert!(JwtVerifier::new(&s).verify(&early).is_err(), "nbf in the future");
        let old =
            signed(serde_json::json!({"sub": sub, "roles": ["agent"], "iat": now - 3 * 86_400, "exp": now + 600}));
        assert!(JwtVerifier::new(&s).verify(&old).is_err(), "issued three days ago");
        let undated = signed(serde_json::json!({"sub": sub, "roles": ["agent"], "exp": now + 600}));
        assert!(JwtVerifier::new(&s).verify(&undated).is_err(), "no iat");
    }

    #[test]
    fn functions_and_scopes_travel_in_the_token_and_scopes_only_for_services() {
        let s = settings(None);
        let issuer = TokenIssuer::new(&s);
        let trainer = Principal::new(Uuid::new_v4(), &[Role::Staff]).with_functions(&[StaffFunction::Trainer]);
        let back = JwtVerifier::new(&s)
            .verify(&issuer.issue_for(&trainer, 60).expect("sign"))
            .expect("verify");
        assert_eq!(back, trainer);
        assert!(back.holds("trainer") && back.holds("staff") && !back.holds("class_advisor") && !back.is_desk());
        let sender = Principal::new(Uuid::new_v4(), &[Role::Service]).with_scopes(&["notifications:send"]);
        let back = JwtVerifier::new(&s)
            .verify(&issuer.issue_for(&sender, 60).expect("sign"))
            .expect("verify");
        assert!(back.holds("notifications:send") && !back.holds("webhooks:manage"));
        let agent_with_scope = Principal::new(Uuid::new_v4(), &[Role::Agent]).with_scopes(&["notifications:send"]);
        let token = issuer.issue_for(&agent_with_scope, 60).expect("sign");
        assert!(
            JwtVerifier::new(&s).verify(&token).is_err(),
            "scopes on a non-service token"
        );
        let bad = Principal::new(Uuid::new_v4(), &[Role::Service]).with_scopes(&["everything"]);
        let token = issuer.issue_for(&bad, 60).expect("sign");
        assert!(
            JwtVerifier::new(&s).verify(&token).is_err(),
            "a scope must be area:action"
        );
    }

    #[test]
    fn role_names_parse() {
        assert_eq!(Role::parse("supervisor"), Some(Role::Supervisor));
        assert_eq!(Role::parse("root"), None);
    }
}
