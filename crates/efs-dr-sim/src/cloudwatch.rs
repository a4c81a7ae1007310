//! Amazon CloudWatch `GetMetricData`, `GetMetricStatistics` and the metric alarms
//! (`PutMetricAlarm`, `DescribeAlarms`, `DeleteAlarms`) over Smithy RPC v2 CBOR (what current
//! aws-sdk-cloudwatch and botocore send), and over awsJson1.0 for older clients.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use ciborium::Value as Cbor;
use serde::Deserialize;
use serde_json::Value as Json;

use super::error::ApiError;
use super::metrics::{self, unit_of, MetricQuery};
use super::state::{region_from_headers, SimState};

const SERVICE: &str = "GraniteServiceVersion20100801";

pub fn routes() -> Router<Arc<SimState>> {
    Router::new().route(
        "/service/GraniteServiceVersion20100801/operation/{operation}",
        post(rpc_v2_cbor),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    Cbor,
    Json,
}

async fn rpc_v2_cbor(
    State(sim): State<Arc<SimState>>,
    Path(operation): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = if body.is_empty() {
        Ok(Json::Object(Default::default()))
    } else {
        ciborium::from_reader::<Cbor, _>(body.as_ref())
            .map_err(|e| {
                ApiError::new(
                    400,
                    "SerializationException",
                    format!("invalid CBOR body: {e}"),
                )
            })
            .map(cbor_to_json)
    };
    dispatch(&sim, &headers, &operation, input, Protocol::Cbor)
}

/// CloudWatch's awsJson1.0 (`POST /` with `X-Amz-Target`); the server routes `POST /` here
/// unless the signature names another service.
pub fn aws_json(sim: &SimState, headers: &HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix(&format!("{SERVICE}.")) else {
        return render_error(
            &ApiError::new(
                400,
                "UnknownOperationException",
                "POST / needs X-Amz-Target: GraniteServiceVersion20100801.<Operation> (awsJson1.0); the awsQuery protocol is not supported",
            ),
            Protocol::Json,
        );
    };
    let input = serde_json::from_slice::<Json>(if body.is_empty() { b"{}" } else { &body })
        .map_err(|e| {
            ApiError::new(
                400,
                "SerializationException",
                format!("invalid JSON body: {e}"),
            )
        });
    dispatch(sim, headers, operation, input, Protocol::Json)
}

/// The resources IAM evaluates a call against, after the Service Authorization Reference:
/// the alarm's ARN for PutMetricAlarm, each named alarm's for DeleteAlarms; for DescribeAlarms,
/// which lists, every alarm of the region (`alarm:*`), so a statement scoped to a name prefix
/// does not allow it (AWS does not document how a listing is evaluated: this is the harder
/// reading). ListTagsForResource: the ARN it names. Metric reads take no resource: the
/// region's.
fn resources(
    region: &str,
    account: &str,
    operation: &str,
    input: &Result<Json, ApiError>,
) -> Vec<String> {
    let alarm = |name: &str| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}");
    let field = |key: &str| input.as_ref().ok().and_then(|i| i.get(key));
    match operation {
        "PutMetricAlarm" => vec![alarm(
            field("AlarmName")
                .and_then(Json::as_str)
                .unwrap_or_default(),
        )],
        "DeleteAlarms" => field("AlarmNames")
            .and_then(Json::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Json::as_str)
                    .map(alarm)
                    .collect::<Vec<_>>()
            })
            .filter(|arns| !arns.is_empty())
            .unwrap_or_else(|| vec![alarm("*")]),
        "DescribeAlarms" => vec![alarm("*")],
        // The resource whose tags are listed, by its ARN.
        "ListTagsForResource" => vec![field("ResourceARN")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| alarm("*"))],
        _ => vec![format!("arn:aws:cloudwatch:{region}:{account}:*")],
    }
}

fn dispatch(
    sim: &SimState,
    headers: &HeaderMap,
    operation: &str,
    input: Result<Json, ApiError>,
    protocol: Protocol,
) -> Response {
    let Some(region) = region_from_headers(headers) else {
        return render_error(
            &ApiError::new(
                403,
                "MissingAuthenticationToken",
                "Requests must be signed with AWS SigV4",
            ),
            protocol,
        );
    };
    for resource in resources(&region, &sim.settings.account_id, operation, &input) {
        if let Err(e) = sim.authorize(
            &format!("cloudwatch:{operation}"),
            &resource,
            &[("aws:RequestedRegion", &region)],
        ) {
            return render_error(&e, protocol);
        }
    }
    let result = input.and_then(|input| match operation {
        "GetMetricData" => sim.api(&region, "GetMetricData", false, |w, s| get_metric_data(w, s, &region, input)),
        "GetMetricStatistics" => {
            sim.api(&region, "GetMetricStatistics", false, |w, s| get_metric_statistics(w, s, &region, input))
        }
        "PutMetricAlarm" => sim.api(&region, "PutMetricAlarm", true, |w, s| put_metric_alarm(w, s, &region, input)),
        "DescribeAlarms" => sim.api(&region, "DescribeAlarms", true, |w, s| describe_alarms(w, s, &region, input)),
        "DeleteAlarms" => sim.api(&region, "DeleteAlarms", true, |w, _| delete_alarms(w, &region, input)),
        "ListTagsForResource" => {
            sim.api(&region, "ListTagsForResource", false, |w, _| list_tags_for_resource(w, &region, input))
        }
        other => Err(ApiError::new(
            400,
            "UnknownOperationException",
            format!("the simulator's CloudWatch serves GetMetricData, GetMetricStatistics, PutMetricAlarm, DescribeAlarms, DeleteAlarms and ListTagsForResource, not {other}"),
        )),
    });
    match result {
        Ok(out) => render_ok(out, protocol),
        Err(e) => render_error(&e, protocol),
    }
}

fn render_ok(out: Cbor, protocol: Protocol) -> Response {
    match protocol {
        Protocol::Cbor => {
            let mut buf = Vec::new();
            ciborium::into_writer(&out, &mut buf).expect("CBOR encoding of a value tree");
            (
                StatusCode::OK,
                [
                    ("smithy-protocol", "rpc-v2-cbor"),
                    ("content-type", "application/cbor"),
                ],
                buf,
            )
                .into_response()
        }
        Protocol::Json => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.0")],
            cbor_to_json(out).to_string(),
        )
            .into_response(),
    }
}

fn render_error(e: &ApiError, protocol: Protocol) -> Response {
    // CloudWatch is awsQuery-compatible: the query error code travels in x-amzn-query-error.
    let (shape, query_code) = match e.code {
        "InvalidParameterValue" => ("InvalidParameterValueException", "InvalidParameterValue"),
        "MissingParameter" => ("MissingRequiredParameterException", "MissingParameter"),
        "ThrottlingException" => ("ThrottlingException", "Throttling"),
        "InternalServerError" => ("InternalServiceFault", "InternalServiceError"),
        other => (other, other),
    };
    let fault = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let type_name = format!("com.amazonaws.cloudwatch#{shape}");
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let query_header = format!("{query_code};{fault}");
    match protocol {
        Protocol::Cbor => {
            let body = Cbor::Map(vec![
                (Cbor::Text("__type".into()), Cbor::Text(type_name)),
                (Cbor::Text("message".into()), Cbor::Text(e.message.clone())),
            ]);
            let mut buf = Vec::new();
            ciborium::into_writer(&body, &mut buf).expect("CBOR encoding of a value tree");
            (
                status,
                [
                    ("smithy-protocol", "rpc-v2-cbor".to_string()),
                    ("content-type", "application/cbor".to_string()),
                    ("x-amzn-query-error", query_header),
                ],
                buf,
            )
                .into_response()
        }
        Protocol::Json => (
            status,
            [
                ("content-type", "application/x-amz-json-1.0".to_string()),
                ("x-amzn-query-error", query_header),
            ],
            serde_json::json!({ "__type": type_name, "message": e.message }).to_string(),
        )
            .into_response(),
    }
}

/// CBOR request values as JSON: timestamps (tag 1) become epoch seconds.
fn cbor_to_json(v: Cbor) -> Json {
    match v {
        Cbor::Integer(i) => {
            let i: i128 = i.into();
            serde_json::json!(i as i64)
        }
        Cbor::Float(f) => serde_json::json!(f),
        Cbor::Text(s) => Json::String(s),
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Null => Json::Null,
        Cbor::Tag(_, inner) => cbor_to_json(*inner),
        Cbor::Array(a) => Json::Array(a.into_iter().map(cbor_to_json).collect()),
        Cbor::Map(m) => Json::Object(
            m.into_iter()
                .filter_map(|(k, v)| match k {
                    Cbor::Text(k) => Some((k, cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        Cbor::Bytes(b) => {
            use base64::Engine;
            Json::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        _ => Json::Null,
    }
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_string())
}

fn timestamp(t: i64) -> Cbor {
    Cbor::Tag(1, Box::new(Cbor::Float(t as f64 / 1000.0)))
}

fn seconds_to_millis(v: f64) -> i64 {
    (v * 1000.0).round() as i64
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DimensionInput {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricStatInput {
    metric: MetricInput,
    period: i64,
    stat: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDataQueryInput {
    id: String,
    metric_stat: Option<MetricStatInput>,
    expression: Option<String>,
    label: Option<String>,
    return_data: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetMetricDataInput {
    metric_data_queries: Vec<MetricDataQueryInput>,
    start_time: f64,
    end_time: f64,
    scan_by: Option<String>,
}

fn parse<T: for<'de> Deserialize<'de>>(input: Json) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| {
        ApiError::new(
            400,
            "InvalidParameterValue",
            format!("the request is not valid: {e}"),
        )
    })
}

fn check_period(period: i64) -> Result<(), ApiError> {
    if period < 1 || (period >= 60 && period % 60 != 0) {
        return Err(ApiError::new(
            400,
            "InvalidParameterValue",
            format!("The parameter Period must be 1, 5, 10, 30 or a multiple of 60, not {period}"),
        ));
    }
    Ok(())
}

fn get_metric_data(
    w: &mut super::model::World,
    s: &super::settings::SimSettings,
    region: &str,
    input: Json,
) -> Result<Cbor, ApiError> {
    let input: GetMetricDataInput = parse(input)?;
    // The API reference: "Each GetMetricData call can include as many as 500 MetricDataQuery
    // structures"; botocore's model does not carry the limit, the service enforces it.
    if input.metric_data_queries.len() > 500 {
        return Err(ApiError::new(
            400,
            "ValidationError",
            format!(
                "1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: Member must have length less than or equal to 500 (got {})",
                input.metric_data_queries.len()
            ),
        ));
    }
    let start = seconds_to_millis(input.start_time);
    let end = seconds_to_millis(input.end_time);
    if end <= start {
        return Err(ApiError::new(
            400,
            "InvalidParameterValue",
            "The parameter StartTime must be earlier than EndTime",
        ));
    }
    let ascending = input.scan_by.as_deref() == Some("TimestampAscending");
    let mut results = Vec::new();
    for q in input.metric_data_queries {
        if q.expression.is_some() {
            return Err(ApiError::new(
                400,
                "InvalidParameterValue",
                format!(
                    "query {}: metric math expressions are not supported by the simulator",
                    q.id
                ),
            ));
        }
        let Some(stat) = q.metric_stat else {
            return Err(ApiError::new(
                400,
                "InvalidParameterValue",
                format!("query {}: MetricStat is required", q.id),
            ));
        };
        check_period(stat.period)?;
        if q.return_data == Some(false) {
            continue;
        }
        let dims: Vec<(String, String)> = stat
            .metric
            .dimensions
            .into_iter()
            .map(|d| (d.name, d.value))
            .collect();
        let metric_name = stat.metric.metric_name.unwrap_or_default();
        let buckets = metrics::query(
            w,
            s,
            &MetricQuery {
                region,
                namespace: stat.metric.namespace.as_deref().unwrap_or_default(),
                metric_name: &metric_name,
                dimensions: &dims,
                start,
                end,
                period_seconds: stat.period,
            },
        );
        let mut points: Vec<(i64, f64)> = Vec::new();
        for b in &buckets {
            let value = b.stat(&stat.stat).ok_or_else(|| {
                ApiError::new(
                    400,
                    "InvalidParameterValue",
                    format!(
                        "Stat {:?} is not supported (Sum, SampleCount, Average, Minimum, Maximum)",
                        stat.stat
                    ),
                )
            })?;
            points.push((b.start, value));
        }
        if !ascending {
            points.reverse();
        }
        results.push(Cbor::Map(vec![
            (text("Id"), text(&q.id)),
            (text("Label"), text(&q.label.unwrap_or(metric_name))),
            (
                text("Timestamps"),
                Cbor::Array(points.iter().map(|(t, _)| timestamp(*t)).collect()),
            ),
            (
                text("Values"),
                Cbor::Array(points.iter().map(|(_, v)| Cbor::Float(*v)).collect()),
            ),
            (text("StatusCode"), text("Complete")),
        ]));
    }
    Ok(Cbor::Map(vec![
        (text("MetricDataResults"), Cbor::Array(results)),
        (text("Messages"), Cbor::Array(vec![])),
    ]))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetMetricStatisticsInput {
    namespace: String,
    metric_name: String,
    #[serde(default)]
    dimensions: Vec<DimensionInput>,
    start_time: f64,
    end_time: f64,
    period: i64,
    #[serde(default)]
    statistics: Vec<String>,
}

fn get_metric_statistics(
    w: &mut super::model::World,
    s: &super::settings::SimSettings,
    region: &str,
    input: Json,
) -> Result<Cbor, ApiError> {
    let input: GetMetricStatisticsInput = parse(input)?;
    check_period(input.period)?;
    if input.statistics.is_empty() {
        return Err(ApiError::new(
            400,
            "MissingParameter",
            "The parameter Statistics is required (Sum, SampleCount, Average, Minimum, Maximum)",
        ));
    }
    let dims: Vec<(String, String)> = input
        .dimensions
        .into_iter()
        .map(|d| (d.name, d.value))
        .collect();
    let buckets = metrics::query(
        w,
        s,
        &MetricQuery {
            region,
            namespace: &input.namespace,
            metric_name: &input.metric_name,
            dimensions: &dims,
            start: seconds_to_millis(input.start_time),
            end: seconds_to_millis(input.end_time),
            period_seconds: input.period,
        },
    );
    let unit = unit_of(&input.metric_name);
    let mut datapoints = Vec::new();
    for b in &buckets {
        let mut fields = vec![(text("Timestamp"), timestamp(b.start))];
        for stat in &input.statistics {
            let v = b.stat(stat).ok_or_else(|| {
                ApiError::new(
                    400,
                    "InvalidParameterValue",
                    format!("Statistic {stat:?} is not valid"),
                )
            })?;
            fields.push((text(stat), Cbor::Float(v)));
        }
        fields.push((text("Unit"), text(unit)));
        datapoints.push(Cbor::Map(fields));
    }
    Ok(Cbor::Map(vec![
        (text("Label"), text(&input.metric_name)),
        (text("Datapoints"), Cbor::Array(datapoints)),
    ]))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagInput {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutMetricAlarmInput {
    alarm_name: String,
    alarm_description: Option<String>,
    actions_enabled: Option<bool>,
    #[serde(default, rename = "OKActions")]
    ok_actions: Vec<String>,
    #[serde(default)]
    alarm_actions: Vec<String>,
    #[serde(default)]
    insufficient_data_actions: Vec<String>,
    metric_name: Option<String>,
    namespace: Option<String>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionInput>,
    period: Option<i64>,
    unit: Option<String>,
    evaluation_periods: i64,
    datapoints_to_alarm: Option<i64>,
    threshold: Option<f64>,
    comparison_operator: String,
    treat_missing_data: Option<String>,
    metrics: Option<Json>,
    #[serde(default)]
    tags: Vec<TagInput>,
}

/// Creates the alarm or, when the name exists in the region, overwrites its configuration and
/// keeps its state and tags (the API reference: "any tags you specify in this parameter are
/// ignored" on an update).
fn put_metric_alarm(
    w: &mut super::model::World,
    s: &super::settings::SimSettings,
    region: &str,
    input: Json,
) -> Result<Cbor, ApiError> {
    use super::alarms::{self, AlarmState, MetricAlarm};
    let input: PutMetricAlarmInput = parse(input)?;
    let unsupported = |what: &str| {
        ApiError::new(
            400,
            "ValidationError",
            format!("{what} is not supported by the simulator; use MetricName, Namespace, Statistic, Period and Threshold"),
        )
    };
    if input.metrics.is_some() {
        return Err(unsupported("Metrics (metric math)"));
    }
    if input.extended_statistic.is_some() {
        return Err(unsupported("ExtendedStatistic"));
    }
    let missing = |p: &str| {
        ApiError::new(
            400,
            "MissingParameter",
            format!("The parameter {p} is required."),
        )
    };
    let existing = w
        .alarms
        .iter()
        .position(|a| a.region == region && a.name == input.alarm_name);
    let mut alarm = MetricAlarm {
        region: region.to_string(),
        arn: format!(
            "arn:aws:cloudwatch:{region}:{}:alarm:{}",
            s.account_id, input.alarm_name
        ),
        name: input.alarm_name,
        description: input.alarm_description,
        actions_enabled: input.actions_enabled.unwrap_or(true),
        alarm_actions: input.alarm_actions,
        ok_actions: input.ok_actions,
        insufficient_data_actions: input.insufficient_data_actions,
        namespace: input.namespace.ok_or_else(|| missing("Namespace"))?,
        metric_name: input.metric_name.ok_or_else(|| missing("MetricName"))?,
        dimensions: input
            .dimensions
            .into_iter()
            .map(|d| (d.name, d.value))
            .collect(),
        statistic: input.statistic.ok_or_else(|| missing("Statistic"))?,
        period: input.period.ok_or_else(|| missing("Period"))?,
        evaluation_periods: input.evaluation_periods,
        datapoints_to_alarm: input.datapoints_to_alarm,
        threshold: input.threshold.ok_or_else(|| missing("Threshold"))?,
        comparison_operator: input.comparison_operator,
        treat_missing_data: input.treat_missing_data,
        unit: input.unit,
        tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        configuration_updated: w.now,
        state: AlarmState::InsufficientData,
        state_reason: "Unchecked: Initial alarm creation".to_string(),
        state_updated: w.now,
    };
    alarms::validate(&alarm)?;
    match existing {
        Some(i) => {
            let old = &w.alarms[i];
            alarm.tags = old.tags.clone();
            alarm.state = old.state;
            alarm.state_reason = old.state_reason.clone();
            alarm.state_updated = old.state_updated;
            w.alarms[i] = alarm;
        }
        None => w.alarms.push(alarm),
    }
    Ok(Cbor::Map(vec![]))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAlarmsInput {
    #[serde(default)]
    alarm_names: Vec<String>,
    alarm_name_prefix: Option<String>,
    #[serde(default)]
    alarm_types: Vec<String>,
    state_value: Option<String>,
    max_records: Option<i64>,
    next_token: Option<String>,
}

fn describe_alarms(
    w: &mut super::model::World,
    s: &super::settings::SimSettings,
    region: &str,
    input: Json,
) -> Result<Cbor, ApiError> {
    let input: DescribeAlarmsInput = parse(input)?;
    if !input.alarm_names.is_empty() && input.alarm_name_prefix.is_some() {
        return Err(ApiError::new(
            400,
            "InvalidParameterCombination",
            "AlarmNames and AlarmNamePrefix cannot be specified together",
        ));
    }
    if input.alarm_names.len() > 100 {
        return Err(ApiError::new(
            400,
            "ValidationError",
            "AlarmNames has at most 100 members",
        ));
    }
    let page = input.max_records.unwrap_or(50);
    if !(1..=100).contains(&page) {
        return Err(ApiError::new(
            400,
            "ValidationError",
            "MaxRecords must be between 1 and 100",
        ));
    }
    let skip: usize = match &input.next_token {
        None => 0,
        Some(t) => t.parse().map_err(|_| {
            ApiError::new(
                400,
                "InvalidNextToken",
                "The service returned an invalid NextToken",
            )
        })?,
    };
    super::alarms::refresh(w, s);
    let metric_alarms_asked =
        input.alarm_types.is_empty() || input.alarm_types.iter().any(|t| t == "MetricAlarm");
    let mut matching: Vec<&super::alarms::MetricAlarm> = w
        .alarms
        .iter()
        .filter(|a| a.region == region && metric_alarms_asked)
        .filter(|a| input.alarm_names.is_empty() || input.alarm_names.contains(&a.name))
        .filter(|a| {
            input
                .alarm_name_prefix
                .as_deref()
                .is_none_or(|p| a.name.starts_with(p))
        })
        .filter(|a| {
            input
                .state_value
                .as_deref()
                .is_none_or(|v| a.state.as_str() == v)
        })
        .collect();
    matching.sort_by(|a, b| a.name.cmp(&b.name));
    let end = (skip + page as usize).min(matching.len());
    let shown = matching.get(skip..end).unwrap_or_default();
    let strings = |v: &[String]| Cbor::Array(v.iter().map(|x| text(x)).collect());
    let alarms = shown
        .iter()
        .map(|a| {
            let mut fields = vec![
                (text("AlarmName"), text(&a.name)),
                (text("AlarmArn"), text(&a.arn)),
                (
                    text("AlarmConfigurationUpdatedTimestamp"),
                    timestamp(a.configuration_updated),
                ),
                (text("ActionsEnabled"), Cbor::Bool(a.actions_enabled)),
                (text("OKActions"), strings(&a.ok_actions)),
                (text("AlarmActions"), strings(&a.alarm_actions)),
                (
                    text("InsufficientDataActions"),
                    strings(&a.insufficient_data_actions),
                ),
                (text("StateValue"), text(a.state.as_str())),
                (text("StateReason"), text(&a.state_reason)),
                (text("StateUpdatedTimestamp"), timestamp(a.state_updated)),
                (
                    text("StateTransitionedTimestamp"),
                    timestamp(a.state_updated),
                ),
                (text("MetricName"), text(&a.metric_name)),
                (text("Namespace"), text(&a.namespace)),
                (text("Statistic"), text(&a.statistic)),
                (
                    text("Dimensions"),
                    Cbor::Array(
                        a.dimensions
                            .iter()
                            .map(|(n, v)| {
                                Cbor::Map(vec![(text("Name"), text(n)), (text("Value"), text(v))])
                            })
                            .collect(),
                    ),
                ),
                (text("Period"), Cbor::Integer(a.period.into())),
                (
                    text("EvaluationPeriods"),
                    Cbor::Integer(a.evaluation_periods.into()),
                ),
                (text("Threshold"), Cbor::Float(a.threshold)),
                (text("ComparisonOperator"), text(&a.comparison_operator)),
            ];
            if let Some(d) = &a.description {
                fields.push((text("AlarmDescription"), text(d)));
            }
            if let Some(n) = a.datapoints_to_alarm {
                fields.push((text("DatapointsToAlarm"), Cbor::Integer(n.into())));
            }
            if let Some(t) = &a.treat_missing_data {
                fields.push((text("TreatMissingData"), text(t)));
            }
            if let Some(u) = &a.unit {
                fields.push((text("Unit"), text(u)));
            }
            Cbor::Map(fields)
        })
        .collect();
    let mut out = vec![
        (text("MetricAlarms"), Cbor::Array(alarms)),
        (text("CompositeAlarms"), Cbor::Array(vec![])),
    ];
    if end < matching.len() {
        out.push((text("NextToken"), text(&end.to_string())));
    }
    Ok(Cbor::Map(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteAlarmsInput {
    alarm_names: Vec<String>,
}

#[derive(Deserialize)]
struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
}

/// The tags of an alarm of the region, by its ARN (the only taggable resource the simulator
/// has); ResourceNotFoundException for any other ARN.
fn list_tags_for_resource(
    w: &mut super::model::World,
    region: &str,
    input: Json,
) -> Result<Cbor, ApiError> {
    let input: ListTagsForResourceInput = parse(input)?;
    let Some(alarm) = w
        .alarms
        .iter()
        .find(|a| a.region == region && a.arn == input.resource_arn)
    else {
        return Err(ApiError::new(
            404,
            "ResourceNotFoundException",
            format!("{} does not exist in {region}", input.resource_arn),
        ));
    };
    let tags = alarm
        .tags
        .iter()
        .map(|(k, v)| Cbor::Map(vec![(text("Key"), text(k)), (text("Value"), text(v))]))
        .collect();
    Ok(Cbor::Map(vec![(text("Tags"), Cbor::Array(tags))]))
}

/// Deletes the named alarms of the region; a name that does not exist fails the whole call with
/// ResourceNotFound and deletes nothing.
fn delete_alarms(w: &mut super::model::World, region: &str, input: Json) -> Result<Cbor, ApiError> {
    let input: DeleteAlarmsInput = parse(input)?;
    if input.alarm_names.len() > 100 {
        return Err(ApiError::new(
            400,
            "ValidationError",
            "AlarmNames has at most 100 members",
        ));
    }
    if let Some(missing) = input
        .alarm_names
        .iter()
        .find(|n| !w.alarms.iter().any(|a| a.region == region && &a.name == *n))
    {
        return Err(ApiError::new(
            404,
            "ResourceNotFound",
            format!("Alarm {missing} does not exist in {region}"),
        ));
    }
    w.alarms
        .retain(|a| !(a.region == region && input.alarm_names.contains(&a.name)));
    Ok(Cbor::Map(vec![]))
}
