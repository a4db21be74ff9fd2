//! Prints a development JWT that a locally started stack accepts (`make token`).
//!
//! Signed with `JWT_SECRET` when set, else with the development key from `config/default.toml`.

use clap::Parser;
use platform::auth::{Principal, Role, StaffFunction, TokenIssuer, is_scope};
use platform::config::DEVELOPMENT_JWT_SECRET;

#[derive(Parser)]
#[command(about = "Print a development JWT")]
struct Args {
    /// customer, agent, supervisor, admin, staff or service (comma-separated for several).
    #[arg(long, default_value = "customer")]
    role: String,
    /// Staff functions: class_advisor, trainer, consultant, front_desk (comma-separated).
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// Scopes of a service token, `area:action` (comma-separated): notifications:send, …
    #[arg(long, value_delimiter = ',')]
    scopes: Vec<String>,
    /// The subject (a UUID); a new one when omitted.
    #[arg(long)]
    sub: Option<uuid::Uuid>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    ttl: i64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let roles = args
        .role
        .split(',')
        .map(|r| Role::parse(r.trim()).ok_or_else(|| anyhow::anyhow!("unknown role `{r}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let functions = args
        .functions
        .iter()
        .map(|f| StaffFunction::parse(f.trim()).ok_or_else(|| anyhow::anyhow!("unknown staff function `{f}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(bad) = args.scopes.iter().find(|s| !is_scope(s)) {
        anyhow::bail!("`{bad}` is not a scope (area:action)");
    }
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let principal = Principal::new(args.sub.unwrap_or_else(uuid::Uuid::new_v4), &roles)
        .with_functions(&functions)
        .with_scopes(&scopes);
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| DEVELOPMENT_JWT_SECRET.to_owned());
    let token = TokenIssuer::from_secret(&secret, None, None).issue_for(&principal, args.ttl)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{token}");
    }
    Ok(())
}
