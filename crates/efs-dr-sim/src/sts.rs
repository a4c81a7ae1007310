//! AWS STS over its real wire protocol (awsQuery, API version 2011-06-15, as botocore's `sts`
//! model describes it): `GetCallerIdentity`, which the Terraform AWS provider calls when it is
//! configured (unless `skip_credentials_validation`) and to learn the account id (unless
//! `skip_requesting_account_id`). The region is the signature's, so a region's outage takes its
//! STS endpoint down with EFS and CloudWatch.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::{region_from_headers, SimState};

const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// One awsQuery request to STS: `Action=...&Version=2011-06-15` in a form-encoded body.
pub fn handle(sim: &SimState, headers: &HeaderMap, body: &Bytes) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(region) = region_from_headers(headers) else {
        return error_response(&ApiError::new(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ));
    };
    let result = match param("Action") {
        Some("GetCallerIdentity") => sim.api(&region, "GetCallerIdentity", false, |_, s| {
            Ok(caller_identity(&s.account_id))
        }),
        Some(other) => Err(ApiError::new(
            400,
            "InvalidAction",
            format!("the simulator's STS serves GetCallerIdentity, not {other}"),
        )),
        None => Err(ApiError::new(
            400,
            "MissingAction",
            "the request has no Action parameter (awsQuery)",
        )),
    };
    tracing::debug!(%region, ok = result.is_ok(), "sts");
    match result {
        Ok(xml) => (StatusCode::OK, [("content-type", "text/xml")], xml).into_response(),
        Err(e) => error_response(&e),
    }
}

fn caller_identity(account: &str) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"{XMLNS}\">\
<GetCallerIdentityResult>\
<Arn>arn:aws:iam::{account}:user/efs-dr-sim</Arn>\
<UserId>AIDAEFSDRSIMULATOR01</UserId>\
<Account>{account}</Account>\
</GetCallerIdentityResult>\
<ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ResponseMetadata>\
</GetCallerIdentityResponse>"
    )
}

/// The awsQuery error document: `<ErrorResponse><Error><Type/><Code/><Message/></Error>`.
pub fn error_response(e: &ApiError) -> Response {
    let kind = if e.status < 500 { "Sender" } else { "Receiver" };
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>",
        e.code,
        escape(&e.message)
    );
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", "text/xml")], body).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
