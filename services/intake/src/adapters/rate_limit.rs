//! The limit on creating tickets, counted in Redis so every replica shares it.

use platform::ApiError;
use platform::kv::Redis;

/// At most `limit` creates per `window_secs` for one customer or sending address.
#[derive(Clone)]
pub struct CreateLimit {
    pub redis: Redis,
    pub limit: u32,
    pub window_secs: u32,
}

impl CreateLimit {
    /// Counts one create by `who` (a customer id or a sending address) against the limit;
    /// 429 with Retry-After past it.
    pub async fn check(&self, who: &str) -> Result<(), ApiError> {
        let key = self.redis.keys.key(&["ratelimit", "create", who]);
        match self.redis.rate_limit(&key, self.limit, self.window_secs).await {
            Ok(None) => Ok(()),
            Ok(Some(retry_after)) => {
                tracing::info!(who, retry_after, "ticket creation rate-limited");
                Err(ApiError::too_many_requests(retry_after))
            }
            // Redis being away must not stop tickets coming in.
            Err(e) => {
                tracing::warn!(error = %e, "rate limit unavailable; letting the request through");
                Ok(())
            }
        }
    }
}
