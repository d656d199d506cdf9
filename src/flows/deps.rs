//! What the flows run with: [`Deps`], built once per process (the AWS clients,
//! the health checker, the configuration, and what is looked up once), the
//! [`Invocation`]'s deadline, and the [`HandlerError`] a flow can end in.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::aws::route53::ZoneError;
use crate::aws::{Aws, SdkAws};
use crate::config::{Config, ZoneSelector};
use crate::decide::PlanSettings;
use crate::events::EventError;
use crate::model::cloud_map::SweptNamespace;
use crate::model::{ClusterScope, ZoneInfo};
use crate::net::health::{CheckMode, HealthChecker, HealthError};
use crate::progress::{Progress, Silent};

/// Time kept back before the Lambda deadline to finish writing and reply.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// Everything the handler needs, built once per process: the AWS clients (the SDK
/// in production, a fake in the flows' unit tests), the health checker, the
/// configuration, and what is looked up once (the zone id, the zone's VPCs, the
/// Cloud Map namespaces and theirs).
pub struct Deps<A = SdkAws> {
    pub aws: A,
    pub health: HealthChecker,
    pub config: Config,
    /// Where progress goes: [`Silent`] unless the command line draws it.
    pub progress: Box<dyn Progress>,
    zone_id: OnceCell<String>,
    zone_info: OnceCell<ZoneInfo>,
    /// Namespaces resolved so far, by their `CLOUD_MAP_NAMESPACES` entry.
    pub(super) namespaces: tokio::sync::Mutex<HashMap<String, SweptNamespace>>,
}

/// Errors that fail an invocation (exit status 1 on the command line, a function
/// error in Lambda).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error("cannot build the health checker: {0}")]
    Health(#[from] HealthError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::Event(EventError::Unsupported { .. }) => "UnsupportedEvent",
            HandlerError::Event(EventError::Malformed { .. }) => "MalformedEvent",
            HandlerError::Zone(_) => "HostedZoneError",
            HandlerError::Health(_) => "HealthCheckerError",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Per-invocation context.
#[derive(Debug, Clone, Copy, Default)]
pub struct Invocation {
    /// The Lambda deadline. `None` (and a deadline not in the future, which local
    /// emulators send) means no deadline.
    pub deadline: Option<SystemTime>,
    /// `--dry-run` on the command line: forces a dry run whatever the event says.
    pub force_dry_run: bool,
}

impl Invocation {
    /// When to stop starting new work, as a monotonic instant.
    pub(crate) fn stop_at(&self) -> Option<tokio::time::Instant> {
        let remaining = self.deadline?.duration_since(SystemTime::now()).ok()?;
        if remaining.is_zero() {
            return None;
        }
        Some(tokio::time::Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN))
    }
}

impl Deps {
    /// Builds the clients from a loaded SDK configuration (which honours
    /// `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_*`), with the
    /// SDK edge's retries and timeouts ([`SdkAws::new`]).
    pub fn new(sdk: &SdkConfig, config: Config) -> Result<Self, HandlerError> {
        Deps::with_aws(SdkAws::new(sdk), config)
    }
}

impl<A: Aws> Deps<A> {
    /// Dependencies around any implementation of the AWS seams.
    pub fn with_aws(aws: A, config: Config) -> Result<Self, HandlerError> {
        Ok(Deps {
            aws,
            health: HealthChecker::new(config.health.clone())?,
            config,
            progress: Box::new(Silent),
            zone_id: OnceCell::new(),
            zone_info: OnceCell::new(),
            namespaces: Default::default(),
        })
    }

    /// The zone id (configured, or looked up by name once per process), and the
    /// zone's name and VPCs (read once per process).
    pub(crate) async fn zone(&self) -> Result<(String, ZoneInfo), ZoneError> {
        let Some(selector) = &self.config.zone else {
            return Err(ZoneError::NotConfigured);
        };
        let id = match selector {
            ZoneSelector::Id(id) => id.clone(),
            ZoneSelector::Namespace(ns) => self
                .zone_id
                .get_or_try_init(|| self.aws.find_zone(ns))
                .await?
                .clone(),
        };
        let info = self
            .zone_info
            .get_or_try_init(|| self.aws.zone_info(&id))
            .await?
            .clone();
        Ok((id, info))
    }

    /// The zone id when it is known without a lookup.
    pub(crate) fn configured_zone_id(&self) -> Option<String> {
        match self.config.zone.as_ref()? {
            ZoneSelector::Id(id) => Some(id.clone()),
            ZoneSelector::Namespace(_) => self.zone_id.get().cloned(),
        }
    }

    pub(crate) fn plan_settings(&self) -> PlanSettings {
        PlanSettings {
            startup_grace: self.config.startup_grace,
            max_delete_percent: self.config.max_delete_percent,
            keep_last_record: self.config.keep_last_record,
            checks_off: self.config.health.mode == CheckMode::Off,
        }
    }

    pub(crate) fn cluster_scope(&self) -> ClusterScope {
        match &self.config.clusters {
            Some(names) => ClusterScope::Named(names.clone()),
            None => ClusterScope::All,
        }
    }
}
