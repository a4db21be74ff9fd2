//! Bearer JWT authentication with roles.
//!
//! Tokens are HS256-signed JWTs with `sub` (a UUID), `roles` and `exp`; `iss`/`aud` are checked
//! when configured. The [`Principal`] extractor is the one place a handler learns who calls.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
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
    /// Another system (a service or the company's back office) calling machine-to-machine.
    Service,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Self::Customer,
        Self::Agent,
        Self::Supervisor,
        Self::Admin,
        Self::Service,
    ];

    /// Staff: agents, supervisors and admins.
    pub const STAFF: [Role; 3] = [Self::Agent, Self::Supervisor, Self::Admin];
    /// Those who manage staff and configuration: supervisors and admins.
    pub const MANAGERS: [Role; 2] = [Self::Supervisor, Self::Admin];
    /// Staff, or one of the platform's services.
    pub const STAFF_OR_SERVICE: [Role; 4] = [Self::Agent, Self::Supervisor, Self::Admin, Self::Service];
    /// Managers, or one of the platform's services.
    pub const MANAGERS_OR_SERVICE: [Role; 3] = [Self::Supervisor, Self::Admin, Self::Service];

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<Role>,
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
        Ok(Principal {
            subject,
            roles: data.claims.roles,
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
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_string(),
            roles: roles.to_vec(),
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

/// Who is calling: the verified token's subject and roles.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Uuid,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// Staff: agents, supervisors and admins.
    pub fn is_staff(&self) -> bool {
        self.has_any(&Role::STAFF)
    }

    /// Staff or one of the platform's services: callers that act on any customer's records.
    pub fn is_staff_or_service(&self) -> bool {
        self.is_staff() || self.has(Role::Service)
    }

    /// Whether the caller may read a record of `customer_id`: that customer, staff or a service.
    pub fn may_read_customer(&self, customer_id: impl Into<Uuid>) -> bool {
        self.is_staff_or_service() || self.subject == customer_id.into()
    }

    /// Fails with 403 unless the caller has one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.has_any(roles) {
            Ok(())
        } else {
            let names: Vec<String> = roles
                .iter()
                .map(|r| {
                    serde_json::to_value(r)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect();
            Err(ApiError::forbidden(format!(
                "requires one of the roles: {}",
                names.join(", ")
            )))
        }
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
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
        assert!(p.has(Role::Agent) && p.is_staff() && !p.has(Role::Customer));
        assert!(p.require_any(&[Role::Supervisor]).is_err());
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
    fn role_names_parse() {
        assert_eq!(Role::parse("supervisor"), Some(Role::Supervisor));
        assert_eq!(Role::parse("root"), None);
    }
}
