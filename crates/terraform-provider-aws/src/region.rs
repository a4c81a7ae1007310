//! Provider 6.x's `region` argument on every resource, after upstream's
//! internal/provider/sdkv2/region.go: where a resource is managed, the provider's region when
//! unset (`defaultRegion`), and a change of it replaces the resource except between unset and
//! the provider's own region (`forceNewIfRegionChanges`). 5.x has no such argument.

use tf_provider::value::Value;

/// `defaultRegion`: an unset region is the provider's (6.x only).
pub fn with_default(region: &mut Value<String>, provider_region: &str) {
    if crate::major() >= 6 && !matches!(region, Value::Value(r) if !r.is_empty()) {
        *region = Value::Value(provider_region.to_string());
    }
}

/// The region a resource is managed in, when it says one (else the provider's).
pub fn managed_in(region: &Value<String>) -> Option<&str> {
    region
        .as_ref_option()
        .map(String::as_str)
        .filter(|r| !r.is_empty())
}

/// `forceNewIfRegionChanges`: whether going from `prior` to `proposed` replaces the resource.
pub fn forces_new(prior: &Value<String>, proposed: &Value<String>, provider_region: &str) -> bool {
    if crate::major() < 6 || prior == proposed {
        return false;
    }
    let unset = |v: &Value<String>| v.as_ref_option().is_none_or(|r| r.is_empty());
    let is_provider =
        |v: &Value<String>| v.as_ref_option().map(String::as_str) == Some(provider_region);
    let benign = (unset(prior) && is_provider(proposed)) || (is_provider(prior) && unset(proposed));
    !benign
}
