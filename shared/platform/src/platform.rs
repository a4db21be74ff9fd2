//! [`Platform`]: the connections a service's handlers, consumers and jobs share (Postgres,
//! Redis, the bus, the outbox, durable jobs, metrics, the token verifier).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::auth::JwtVerifier;
use crate::bus::Bus;
use crate::bus::consumer::{Consumer, ConsumerSpec, EventHandler};
use crate::bus::outbox::Outbox;
use crate::clock::Clock;
use crate::config::Settings;
use crate::health::Health;
use crate::jobs::Jobs;
use crate::kv::Redis;
use crate::metrics::Metrics;

/// Everything a service's handlers need from the platform. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    pub service: &'static str,
    pub pool: PgPool,
    pub redis: Redis,
    pub bus: Arc<Bus>,
    pub outbox: Outbox,
    pub jobs: Jobs,
    pub metrics: Arc<Metrics>,
    /// Background tasks' restarts, for readiness.
    pub health: Arc<Health>,
    /// Where "now" comes from for every time rule.
    pub clock: Clock,
    pub jwt: web::Data<JwtVerifier>,
}

impl Platform {
    /// Connects to Postgres (and migrates, unless disabled), Redis and RabbitMQ.
    pub async fn connect<S>(
        service: &'static str,
        settings: &Settings<S>,
        migrations: &Migrator,
    ) -> anyhow::Result<Self> {
        if settings.database.run_migrations {
            crate::db::migrate_with(&settings.database, migrations).await?;
        }
        let pool = crate::db::connect(&settings.database).await?;
        let redis = Redis::connect(&settings.redis, service).await?;
        let bus = Bus::new(&settings.bus, service);
        bus.connect_with_retry(Duration::from_secs(30)).await?;
        let metrics = Arc::new(Metrics::new(service)?);
        let clock = settings.clock.clock();
        let outbox = Outbox::new(
            service,
            pool.clone(),
            bus.clone(),
            metrics.clone(),
            settings.outbox.clone(),
            clock.clone(),
        );
        let jobs = Jobs::new(
            pool.clone(),
            settings.jobs.clone(),
            metrics.clone(),
            outbox.clone(),
            clock.clone(),
        );
        Ok(Self {
            service,
            pool,
            redis,
            bus,
            outbox,
            jobs,
            metrics,
            health: Arc::default(),
            clock,
            jwt: web::Data::new(JwtVerifier::new(&settings.auth)),
        })
    }

    /// A consumer of `spec`'s event types, handled by `handler`.
    pub fn consumer<H: EventHandler>(&self, spec: ConsumerSpec, handler: H) -> Consumer<H> {
        Consumer::new(
            self.bus.clone(),
            self.pool.clone(),
            self.redis.clone(),
            self.outbox.clone(),
            self.metrics.clone(),
            self.health.clone(),
            spec,
            Arc::new(handler),
        )
    }
}
