//! Prometheus metrics of the service (`/metrics`, text exposition format, names prefixed
//! `coco_`): releases, KBS attestations, refusals by kind, decision latency, open connections,
//! and the sizes of the bounded caches.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::service::{KeyReleaseService, Observer};

type Labels = Vec<(String, String)>;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    releases: Counter,
    attestations: Counter,
    attest_latency: Histogram,
    refusals: Family<Labels, Counter>,
    latency: Histogram,
    /// Connections open now.
    pub(crate) open_connections: Gauge,
    cached_links: Gauge,
    replay_entries: Gauge,
    ready: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("coco");
        let releases = Counter::default();
        registry.register("releases", "Data keys released", releases.clone());
        let attestations = Counter::default();
        registry.register(
            "kbs_attestations",
            "KBS attestations verified and appraised (each session may then fetch resources)",
            attestations.clone(),
        );
        let attest_latency = Histogram::new(BUCKETS);
        registry.register(
            "kbs_attest_duration_seconds",
            "Time to decide a KBS attestation (verification, appraisal, audit)",
            attest_latency.clone(),
        );
        let refusals = Family::<Labels, Counter>::default();
        registry.register(
            "refusals",
            "Requests refused, by error kind (before or by the decision)",
            refusals.clone(),
        );
        let latency = Histogram::new(BUCKETS);
        registry.register(
            "release_duration_seconds",
            "Time to decide a release request (verification, appraisal, wrapping, audit), or to \
             release a KBS resource to an attested session",
            latency.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "HTTP connections open",
            open_connections.clone(),
        );
        let cached_links = Gauge::default();
        registry.register(
            "link_cache_entries",
            "Verified certificate links remembered (bounded)",
            cached_links.clone(),
        );
        let replay_entries = Gauge::default();
        registry.register(
            "replay_store_entries",
            "Used challenges remembered until they expire (bounded)",
            replay_entries.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 when the service can release keys (its audit log accepts writes)",
            ready.clone(),
        );
        Self {
            registry,
            releases,
            attestations,
            attest_latency,
            refusals,
            latency,
            open_connections,
            cached_links,
            replay_entries,
            ready,
        }
    }
}

impl Observer for Metrics {
    fn released(&self, secs: f64) {
        self.releases.inc();
        self.latency.observe(secs);
    }

    fn attested(&self, secs: f64) {
        self.attestations.inc();
        self.attest_latency.observe(secs);
    }

    fn refused(&self, kind: &str, secs: f64) {
        self.refusals
            .get_or_create(&vec![("kind".to_string(), kind.to_string())])
            .inc();
        if secs > 0.0 {
            self.latency.observe(secs);
        }
    }
}

impl Metrics {
    /// The text exposition of every metric, with the gauges of `service` read now.
    pub fn render(&self, service: &KeyReleaseService) -> String {
        let sizes = service.sizes();
        self.cached_links.set(sizes.cached_links as i64);
        self.replay_entries
            .set(sizes.replay_entries.map_or(-1, |n| n as i64));
        self.ready.set(i64::from(service.ready()));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
