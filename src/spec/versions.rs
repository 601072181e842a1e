//! Fields whose meaning changed between runtime-spec versions, read as the
//! version a config declares meant them.

use serde_json::Value;

/// runtime-spec 1.3.0 made a pids limit of 0 a real limit and the limit
/// optional. Before it the spec's own type said its default, 0, was "no
/// limit", and clients wrote it so: Debian's podman 4.3 turns
/// `--pids-limit -1` into 0 (runc 1.1 and crun left such a cgroup unlimited).
const PIDS_ZERO_IS_A_LIMIT: (u64, u64) = (1, 3);

/// Rewrites config.json's value so that the rest of hull reads each such
/// field as runtime-spec 1.3.0 does.
pub fn read_as_declared(config: &mut Value) {
    let older = config
        .get("ociVersion")
        .and_then(Value::as_str)
        .and_then(major_minor)
        .is_some_and(|v| v < PIDS_ZERO_IS_A_LIMIT);
    if let Some(resources) = config.pointer_mut("/linux/resources") {
        if older && resources.pointer("/pids/limit").and_then(Value::as_i64) == Some(0) {
            tracing::debug!("linux.resources.pids.limit: 0 means no limit before runtime-spec 1.3.0");
            resources["pids"]["limit"] = Value::from(-1);
        }
        pids_without_limit(resources);
    }
}

/// A `pids` object without a limit asks for nothing (runtime-spec 1.3.0),
/// where oci-spec would read it as a limit of 0. Also for `update`'s
/// resources.
pub fn pids_without_limit(resources: &mut Value) {
    let Some(r) = resources.as_object_mut() else { return };
    if r.get("pids")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.contains_key("limit"))
    {
        r.remove("pids");
    }
}

/// "1.0.2-dev" -> (1, 0); None where either is not a number.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split(['.', '-', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(config: Value) -> Value {
        let mut c = config;
        read_as_declared(&mut c);
        c["linux"]["resources"].clone()
    }

    #[test]
    fn a_pids_limit_of_0_is_no_limit_before_1_3_0() {
        let pids =
            |v: &str, p: Value| read(json!({"ociVersion": v, "linux": {"resources": {"pids": p}}}))["pids"].clone();
        assert_eq!(pids("1.0.2-dev", json!({"limit": 0})), json!({"limit": -1}));
        assert_eq!(pids("1.2.1+dev", json!({"limit": 0})), json!({"limit": -1}));
        assert_eq!(pids("1.3.0", json!({"limit": 0})), json!({"limit": 0}));
        assert_eq!(pids("1.10.0", json!({"limit": 0})), json!({"limit": 0}));
        assert_eq!(pids("1.0.2", json!({"limit": 7})), json!({"limit": 7}));
        // What hull cannot read as a version keeps today's meaning.
        assert_eq!(pids("1.x", json!({"limit": 0})), json!({"limit": 0}));
    }

    #[test]
    fn pids_without_a_limit_ask_for_nothing() {
        for v in ["1.0.2", "1.3.0"] {
            let r = read(json!({"ociVersion": v, "linux": {"resources": {"pids": {}, "cpu": {}}}}));
            assert_eq!(r, json!({"cpu": {}}));
        }
        // A wrong type is left for the parser to name.
        let r = read(json!({"ociVersion": "1.3.0", "linux": {"resources": {"pids": "x"}}}));
        assert_eq!(r, json!({"pids": "x"}));
        let mut u = json!({"pids": {}});
        pids_without_limit(&mut u);
        assert_eq!(u, json!({}));
    }
}
