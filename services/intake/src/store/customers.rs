//! Customer profiles and their contact addresses.

use chrono::{DateTime, Utc};
use contracts::CustomerId;
use platform::Tx;
use sqlx::PgPool;

use crate::domain::customer::{Contact, CustomerProfile};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerRow {
    pub id: CustomerId,
    pub display_name: Option<String>,
    pub role: String,
    pub segments: Vec<String>,
    pub preferred_language: String,
    pub education_level: Option<String>,
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, display_name, role, segments, preferred_language, education_level, time_zone, created_at, updated_at";

/// Inserts or replaces the profile and its contacts; true when it was new. An address already
/// held by another customer fails on `customer_contact_address_idx`.
pub async fn upsert(tx: &mut Tx, id: CustomerId, p: &CustomerProfile) -> Result<(CustomerRow, bool), sqlx::Error> {
    let row: CustomerRow = sqlx::query_as(&format!(
        "INSERT INTO customer (id, display_name, role, segments, preferred_language, education_level, time_zone) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, role = EXCLUDED.role, \
            segments = EXCLUDED.segments, preferred_language = EXCLUDED.preferred_language, \
            education_level = EXCLUDED.education_level, time_zone = EXCLUDED.time_zone, updated_at = now() \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&p.display_name)
    .bind(&p.role)
    .bind(&p.segments)
    .bind(&p.preferred_language)
    .bind(&p.education_level)
    .bind(&p.time_zone)
    .fetch_one(&mut **tx)
    .await?;
    // A new row's timestamps are the same statement's now(); an update moves updated_at.
    let inserted = row.created_at == row.updated_at;
    sqlx::query("DELETE FROM customer_contact WHERE customer_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let channels: Vec<&str> = p.contacts.iter().map(|c| c.channel.as_str()).collect();
    let addresses: Vec<&str> = p.contacts.iter().map(|c| c.address.as_str()).collect();
    sqlx::query(
        "INSERT INTO customer_contact (customer_id, channel, address) \
         SELECT $1, c, a FROM unnest($2::text[], $3::text[]) AS t(c, a)",
    )
    .bind(id)
    .bind(&channels)
    .bind(&addresses)
    .execute(&mut **tx)
    .await?;
    Ok((row, inserted))
}

pub async fn get(pool: &PgPool, id: CustomerId) -> Result<Option<(CustomerRow, Vec<Contact>)>, sqlx::Error> {
    let Some(row) = sqlx::query_as::<_, CustomerRow>(&format!("SELECT {COLUMNS} FROM customer WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let contacts = sqlx::query_as::<_, (String, String)>(
        "SELECT channel, address FROM customer_contact WHERE customer_id = $1 ORDER BY channel, address",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(channel, address)| Contact { channel, address })
    .collect();
    Ok(Some((row, contacts)))
}

/// The role and segments a new ticket copies from its customer (none without a profile).
pub async fn ticket_facts(tx: &mut Tx, id: CustomerId) -> Result<Option<(String, Vec<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT role, segments FROM customer WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// The customer holding `address` on `channel`.
pub async fn by_address(tx: &mut Tx, channel: &str, address: &str) -> Result<Option<CustomerId>, sqlx::Error> {
    sqlx::query_scalar("SELECT customer_id FROM customer_contact WHERE channel = $1 AND lower(address) = lower($2)")
        .bind(channel)
        .bind(address)
        .fetch_optional(&mut **tx)
        .await
}

/// How many tickets of a customer are in each status.
pub async fn ticket_counts(pool: &PgPool, id: CustomerId) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM ticket WHERE customer_id = $1 GROUP BY status ORDER BY status")
        .bind(id)
        .fetch_all(pool)
        .await
}
