//! `aws_cloudwatch_metric_alarm`, following upstream's internal/service/cloudwatch/metric_alarm.go
//! for a single-metric alarm: Create refuses a name that already exists (findMetricAlarmByName
//! first, upstream's guard against silent overwrites, PR 44169) and then PutMetricAlarm; Read is
//! DescribeAlarms by name and a missing alarm leaves the state; Update is PutMetricAlarm again;
//! only `alarm_name` (and in 6.x `region`) forces replacement; Delete is DeleteAlarms, where
//! ResourceNotFound is success; import by name. `actions_enabled` defaults to true and
//! `treat_missing_data` to "missing", as upstream's schema says. The transparent tagging
//! interceptor lists the alarm's tags (ListTagsForResource) after every create, read and
//! update, and fails the operation when it cannot.
//!
//! Not served by the stand-in (efs-dr's module uses none of them): `metric_query`,
//! `extended_statistic`, `threshold_metric_id`, `evaluate_low_sample_count_percentiles`, and
//! changing tags after creation (upstream's TagResource); a plan that needs one says so.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, StandardUnit, Statistic, Tag,
};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::clients::{error_code, service_message, Configured, Shared};
use super::file_system::{plain_tags, TagMap};
use super::schema_util::*;

type StringSet = Value<Vec<Value<String>>>;

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    #[serde(default)]
    pub id: Value<String>,
    #[serde(default)]
    pub arn: Value<String>,
    #[serde(default)]
    pub actions_enabled: Value<bool>,
    #[serde(default)]
    pub alarm_actions: StringSet,
    #[serde(default)]
    pub alarm_description: Value<String>,
    #[serde(default)]
    pub alarm_name: Value<String>,
    #[serde(default)]
    pub comparison_operator: Value<String>,
    #[serde(default)]
    pub datapoints_to_alarm: Value<i64>,
    #[serde(default)]
    pub dimensions: TagMap,
    #[serde(default)]
    pub evaluation_periods: Value<i64>,
    #[serde(default)]
    pub insufficient_data_actions: StringSet,
    #[serde(default)]
    pub metric_name: Value<String>,
    #[serde(default)]
    pub namespace: Value<String>,
    #[serde(default)]
    pub ok_actions: StringSet,
    #[serde(default)]
    pub period: Value<i64>,
    #[serde(default)]
    pub statistic: Value<String>,
    #[serde(default)]
    pub threshold: Value<f64>,
    #[serde(default)]
    pub treat_missing_data: Value<String>,
    #[serde(default)]
    pub unit: Value<String>,
    #[serde(default)]
    pub tags: TagMap,
    #[serde(default)]
    pub tags_all: TagMap,
    /// 6.x only: where the alarm is managed.
    #[serde(default)]
    pub region: Value<String>,
}

pub struct MetricAlarmResource {
    shared: Arc<Shared>,
}

impl MetricAlarmResource {
    pub fn new(shared: Arc<Shared>) -> Self {
        MetricAlarmResource { shared }
    }
}

fn strings(v: &StringSet) -> Vec<String> {
    v.as_ref_option()
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_ref_option().cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// A set read back from AWS: null when the configuration left it out and AWS has none.
fn string_set(values: &[String], prior: &StringSet) -> StringSet {
    if values.is_empty() && prior.is_null() {
        Value::Null
    } else {
        Value::Value(values.iter().cloned().map(Value::Value).collect())
    }
}

fn known(v: &Value<String>) -> Option<String> {
    v.as_ref_option().cloned().filter(|s| !s.is_empty())
}

/// 6.x `defaultRegion`: an unset region is the provider's.
fn with_region(mut s: State, provider_region: &str) -> State {
    crate::region::with_default(&mut s.region, provider_region);
    s
}

fn region_of(s: &State) -> Option<&str> {
    crate::region::managed_in(&s.region)
}

fn merged_tags(c: &Configured, s: &State) -> BTreeMap<String, String> {
    let mut all = c.default_tags.clone();
    all.extend(plain_tags(&s.tags));
    all
}

/// findMetricAlarmByName: DescribeAlarms with the name and the MetricAlarm type; None when
/// there is no such alarm.
async fn find_by_name(
    client: &aws_sdk_cloudwatch::Client,
    name: &str,
) -> Result<Option<MetricAlarm>, String> {
    let out = client
        .describe_alarms()
        .alarm_names(name)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading CloudWatch Metric Alarm ({name}): {}",
                service_message("CloudWatch", &e)
            )
        })?;
    match out.metric_alarms() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(format!(
            "reading CloudWatch Metric Alarm ({name}): expected 1 result, got {}",
            many.len()
        )),
    }
}

/// resourceMetricAlarmRead's flatten, keeping what the configuration left null null.
fn flatten(prior: &State, a: &MetricAlarm) -> State {
    let opt = |v: Option<&str>| v.map(|s| Value::Value(s.to_string())).unwrap_or_default();
    let dimensions: BTreeMap<String, Value<String>> = a
        .dimensions()
        .iter()
        .filter_map(|d| Some((d.name()?.to_string(), Value::Value(d.value()?.to_string()))))
        .collect();
    State {
        id: opt(a.alarm_name()),
        arn: opt(a.alarm_arn()),
        actions_enabled: Value::Value(a.actions_enabled().unwrap_or(true)),
        alarm_actions: string_set(a.alarm_actions(), &prior.alarm_actions),
        alarm_description: opt(a.alarm_description()),
        alarm_name: opt(a.alarm_name()),
        comparison_operator: opt(a.comparison_operator().map(|c| c.as_str())),
        datapoints_to_alarm: a
            .datapoints_to_alarm()
            .map(|n| Value::Value(n as i64))
            .unwrap_or_default(),
        dimensions: if dimensions.is_empty() && prior.dimensions.is_null() {
            Value::Null
        } else {
            Value::Value(dimensions)
        },
        evaluation_periods: a
            .evaluation_periods()
            .map(|n| Value::Value(n as i64))
            .unwrap_or_default(),
        insufficient_data_actions: string_set(
            a.insufficient_data_actions(),
            &prior.insufficient_data_actions,
        ),
        metric_name: opt(a.metric_name()),
        namespace: opt(a.namespace()),
        ok_actions: string_set(a.ok_actions(), &prior.ok_actions),
        period: a
            .period()
            .map(|n| Value::Value(n as i64))
            .unwrap_or_default(),
        statistic: opt(a.statistic().map(|s| s.as_str())),
        threshold: a.threshold().map(Value::Value).unwrap_or_default(),
        treat_missing_data: Value::Value(a.treat_missing_data().unwrap_or("missing").to_string()),
        unit: opt(a.unit().map(|u| u.as_str())),
        tags: prior.tags.clone(),
        tags_all: prior.tags_all.clone(),
        region: prior.region.clone(),
    }
}

/// The transparent tagging interceptor's `listTags` (internal/provider/sdkv2/tags_interceptor.go,
/// interceptors/htags.go): DescribeAlarms returns no tags, so after every Create, Read and
/// Update the provider lists them with ListTagsForResource by the alarm's ARN, and an error
/// (AccessDenied when the role lacks `cloudwatch:ListTagsForResource`) fails the operation.
async fn with_listed_tags(c: &Configured, mut s: State) -> Result<State, String> {
    let Some(arn) = known(&s.arn) else {
        return Ok(s);
    };
    let out = c
        .cloudwatch(region_of(&s))
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "listing tags for CloudWatch Metric Alarm ({arn}): {}",
                service_message("CloudWatch", &e)
            )
        })?;
    let listed: BTreeMap<String, Value<String>> = out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), Value::Value(t.value()?.to_string()))))
        .collect();
    s.tags_all = Value::Value(listed);
    Ok(s)
}

/// What a read of the alarm found.
enum Found {
    Alarm(State),
    Gone,
    /// It exists, but the tags could not be listed: the state as read, and why.
    TagsUnlisted(State, String),
}

impl MetricAlarmResource {
    async fn read_live(
        &self,
        diags: &mut Diagnostics,
        c: &Configured,
        prior: &State,
    ) -> Option<Found> {
        let name = prior
            .id
            .as_ref_option()
            .or(prior.alarm_name.as_ref_option())?
            .clone();
        match find_by_name(&c.cloudwatch(region_of(prior)), &name).await {
            Ok(Some(a)) => {
                let read = with_region(flatten(prior, &a), &c.region);
                Some(match with_listed_tags(c, read.clone()).await {
                    Ok(s) => Found::Alarm(s),
                    Err(e) => Found::TagsUnlisted(read, e),
                })
            }
            Ok(None) => Some(Found::Gone),
            Err(e) => {
                diags.root_error("reading CloudWatch Metric Alarm", e);
                None
            }
        }
    }

    /// expandPutMetricAlarmInput, then PutMetricAlarm.
    async fn put(&self, c: &Configured, s: &State, with_tags: bool) -> Result<(), String> {
        let name = known(&s.alarm_name).unwrap_or_default();
        let dimensions: Vec<Dimension> = plain_tags(&s.dimensions)
            .into_iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect();
        let mut put = c
            .cloudwatch(region_of(s))
            .put_metric_alarm()
            .alarm_name(&name)
            .actions_enabled(s.actions_enabled.as_ref_option().copied().unwrap_or(true))
            .set_alarm_actions(Some(strings(&s.alarm_actions)))
            .set_ok_actions(Some(strings(&s.ok_actions)))
            .set_insufficient_data_actions(Some(strings(&s.insufficient_data_actions)))
            .set_alarm_description(known(&s.alarm_description))
            .set_comparison_operator(
                known(&s.comparison_operator).map(|v| ComparisonOperator::from(v.as_str())),
            )
            .set_datapoints_to_alarm(s.datapoints_to_alarm.as_ref_option().map(|n| *n as i32))
            .set_dimensions(Some(dimensions))
            .set_evaluation_periods(s.evaluation_periods.as_ref_option().map(|n| *n as i32))
            .set_metric_name(known(&s.metric_name))
            .set_namespace(known(&s.namespace))
            .set_period(s.period.as_ref_option().map(|n| *n as i32))
            .set_statistic(known(&s.statistic).map(|v| Statistic::from(v.as_str())))
            .set_threshold(s.threshold.as_ref_option().copied())
            .set_treat_missing_data(known(&s.treat_missing_data))
            .set_unit(known(&s.unit).map(|v| StandardUnit::from(v.as_str())));
        if with_tags {
            let tags: Vec<Tag> = merged_tags(c, s)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            if !tags.is_empty() {
                put = put.set_tags(Some(tags));
            }
        }
        put.send().await.map(|_| ()).map_err(|e| {
            format!(
                "putting CloudWatch Metric Alarm ({name}): {}",
                service_message("CloudWatch", &e)
            )
        })
    }
}

fn tags_all(c: &Configured, s: &State) -> TagMap {
    Value::Value(
        merged_tags(c, s)
            .into_iter()
            .map(|(k, v)| (k, Value::Value(v)))
            .collect(),
    )
}

#[async_trait]
impl Resource for MetricAlarmResource {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let set = || AttributeType::Set(Box::new(AttributeType::String));
        let number = |c, doc| attr(AttributeType::Number, c, doc);
        let mut attributes = vec![
            ("id", string(Computed, "The alarm's name")),
            ("arn", string(Computed, "ARN")),
            ("actions_enabled", boolean(OptionalComputed, "Default true")),
            ("alarm_actions", attr(set(), Optional, "ARNs run on ALARM")),
            ("alarm_description", string(Optional, "Description")),
            ("alarm_name", string(Required, "Name (forces replacement)")),
            ("comparison_operator", string(Required, "Comparison")),
            (
                "datapoints_to_alarm",
                number(Optional, "Breaching datapoints"),
            ),
            (
                "dimensions",
                string_map(Optional, "The metric's dimensions"),
            ),
            ("evaluation_periods", number(Required, "Periods evaluated")),
            (
                "insufficient_data_actions",
                attr(set(), Optional, "ARNs run on INSUFFICIENT_DATA"),
            ),
            ("metric_name", string(Optional, "Metric")),
            ("namespace", string(Optional, "Namespace")),
            ("ok_actions", attr(set(), Optional, "ARNs run on OK")),
            ("period", number(Optional, "Seconds")),
            ("statistic", string(Optional, "Statistic")),
            ("threshold", number(Optional, "Threshold")),
            (
                "treat_missing_data",
                string(
                    OptionalComputed,
                    "missing (default), ignore, breaching, notBreaching",
                ),
            ),
            ("unit", string(Optional, "Unit")),
            ("tags", string_map(Optional, "Tags")),
            (
                "tags_all",
                string_map(Computed, "Tags including the provider's default_tags"),
            ),
        ];
        if crate::major() >= 6 {
            attributes.push((
                "region",
                string(
                    OptionalComputed,
                    "Region where this resource will be managed. Defaults to the Region set in the provider configuration",
                ),
            ));
        }
        Some(Schema {
            version: 1,
            block: block("CloudWatch metric alarm", attributes, vec![]),
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let path = AttributePath::new;
        if let Value::Value(name) = &config.alarm_name {
            if name.is_empty() || name.chars().count() > 255 {
                diags.error(
                    "Invalid value",
                    format!(
                        "expected length of alarm_name to be in the range (1 - 255), got {name}"
                    ),
                    path("alarm_name"),
                );
            }
        }
        if let Value::Value(op) = &config.comparison_operator {
            let valid = ComparisonOperator::values();
            if !valid.contains(&op.as_str()) {
                diags.error(
                    "Invalid value",
                    format!("expected comparison_operator to be one of {valid:?}, got {op}"),
                    path("comparison_operator"),
                );
            }
        }
        if let Value::Value(t) = &config.treat_missing_data {
            let valid = ["breaching", "notBreaching", "ignore", "missing"];
            if !valid.iter().any(|v| v.eq_ignore_ascii_case(t)) {
                diags.error(
                    "Invalid value",
                    format!("expected treat_missing_data to be one of {valid:?}, got {t}"),
                    path("treat_missing_data"),
                );
            }
        }
        if let Value::Value(p) = &config.period {
            if !(matches!(p, 10 | 20 | 30) || (*p > 0 && p % 60 == 0)) {
                diags.error(
                    "Invalid value",
                    format!("expected period to be one of [10 20 30] or divisible by 60, got {p}"),
                    path("period"),
                );
            }
        }
        for (name, v) in [
            ("evaluation_periods", &config.evaluation_periods),
            ("datapoints_to_alarm", &config.datapoints_to_alarm),
        ] {
            if let Value::Value(n) = v {
                if *n < 1 {
                    diags.error(
                        "Invalid value",
                        format!("expected {name} to be at least (1), got {n}"),
                        path(name),
                    );
                }
            }
        }
        // CustomizeDiff: a metric needs exactly one of statistic and extended_statistic.
        if config.metric_name.is_value() && !config.statistic.is_value() {
            diags.root_error_short(
                "One of `statistic` or `extended_statistic` must be set for a cloudwatch metric alarm",
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        match self.read_live(diags, c, &state).await {
            Some(Found::Alarm(s)) => Some((s, private)),
            Some(Found::Gone) => None,
            Some(Found::TagsUnlisted(_, e)) => {
                diags.root_error("reading CloudWatch Metric Alarm", e);
                Some((state, private))
            }
            None => Some((state, private)),
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        let mut s = with_region(proposed, &c.region);
        s.id = Value::Unknown;
        s.arn = Value::Unknown;
        if s.actions_enabled.is_null() {
            s.actions_enabled = Value::Value(true);
        }
        if s.treat_missing_data.is_null() {
            s.treat_missing_data = Value::Value("missing".into());
        }
        s.tags_all = tags_all(c, &s);
        Some((s, Value::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let c = self.shared.get(diags)?;
        let provider_region = c.region.clone();
        let mut planned = with_region(proposed, &provider_region);
        let mut replace = Vec::new();
        if planned.alarm_name != prior.alarm_name {
            replace.push(AttributePath::new("alarm_name"));
        }
        if crate::region::forces_new(&prior.region, &planned.region, &provider_region) {
            replace.push(AttributePath::new("region"));
        }
        if planned.actions_enabled.is_null() {
            planned.actions_enabled = Value::Value(true);
        }
        if planned.treat_missing_data.is_null() {
            planned.treat_missing_data = Value::Value("missing".into());
        }
        planned.id = prior.id.clone();
        planned.arn = prior.arn.clone();
        planned.tags_all = tags_all(c, &planned);
        Some((planned, prior_private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(prior_private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        let name = known(&planned.alarm_name)?;
        // Upstream checks first, so that two resources (or a leftover) never share one alarm.
        match find_by_name(&c.cloudwatch(region_of(&planned)), &name).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                diags.root_error(
                    "creating CloudWatch Metric Alarm",
                    format!("CloudWatch metric alarm \"{name}\" already exists"),
                );
                return None;
            }
            Err(e) => {
                diags.root_error("creating CloudWatch Metric Alarm", e);
                return None;
            }
        }
        if let Err(e) = self.put(c, &planned, true).await {
            diags.root_error("creating CloudWatch Metric Alarm", e);
            return None;
        }
        let mut prior = planned.clone();
        prior.id = Value::Value(name.clone());
        match self.read_live(diags, c, &prior).await {
            Some(Found::Alarm(s)) => Some((s, private)),
            // Created, then failed: Terraform records the object tainted, as upstream's SDKv2
            // does with an id set and an error.
            Some(Found::TagsUnlisted(s, e)) => {
                diags.root_error("creating CloudWatch Metric Alarm", e);
                Some((s, private))
            }
            Some(Found::Gone) => {
                diags.root_error_short(format!(
                    "CloudWatch Metric Alarm ({name}) vanished right after creation"
                ));
                None
            }
            None => None,
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let c = self.shared.get(diags)?;
        if plain_tags(&prior.tags_all) != plain_tags(&planned.tags_all) {
            diags.root_error_short(
                "changing an existing alarm's tags (TagResource) is not served by efs-dr's stand-in provider",
            );
            return None;
        }
        if let Err(e) = self.put(c, &planned, false).await {
            diags.root_error("updating CloudWatch Metric Alarm", e);
            return None;
        }
        match self.read_live(diags, c, &planned).await {
            Some(Found::Alarm(s)) => Some((s, private)),
            Some(Found::TagsUnlisted(s, e)) => {
                diags.root_error("updating CloudWatch Metric Alarm", e);
                Some((s, private))
            }
            _ => None,
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let c = self.shared.get(diags)?;
        let name = state.id.as_ref_option()?.clone();
        match c
            .cloudwatch(region_of(&state))
            .delete_alarms()
            .alarm_names(&name)
            .send()
            .await
        {
            Ok(_) => Some(()),
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("ResourceNotFound" | "ResourceNotFoundException")
                ) =>
            {
                Some(())
            }
            Err(e) => {
                diags.root_error(
                    "deleting CloudWatch Metric Alarm",
                    format!(
                        "deleting CloudWatch Metric Alarm ({name}): {}",
                        service_message("CloudWatch", &e)
                    ),
                );
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        _diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        Some((
            State {
                id: Value::Value(id.clone()),
                alarm_name: Value::Value(id),
                ..State::default()
            },
            Value::Null,
        ))
    }
}
