#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn spark_defaults_give_one_core_and_1408_mib() {
    let s = shape(&SparkConf::from_pairs(&[], false)).unwrap();
    assert_eq!(s.driver.cpu_request.amount, 1000);
    assert_eq!(s.driver.cpu_limit, None);
    assert_eq!(s.driver.memory.amount, (1024 + 384) * MIB);
    assert_eq!(
        s.executors,
        Executors {
            initial: 2,
            most: Some(2)
        }
    );
}

#[test]
fn the_seed_spot_job_asks_for_what_spark_would_ask() {
    // spot/spot-pod-templates-job.yaml: 4 executors of 2 cores and 4G, a 1-core driver.
    let conf = SparkConf::from_pairs(
        &[
            ("spark.executor.instances", "4"),
            ("spark.executor.memory", "4G"),
            ("spark.executor.cores", "2"),
            ("spark.driver.cores", "1"),
        ],
        true,
    );
    let s = shape(&conf).unwrap();
    assert_eq!(s.executor.cpu_request.amount, 2000);
    assert_eq!(s.executor.cpu_request.source, "spark.executor.cores=2");
    // Python: overhead factor 0.4 of 4096 MiB = 1638 MiB.
    assert_eq!(s.executor.memory.amount, (4096 + 1638) * MIB);
    assert_eq!(s.executors.initial, 4);
}

#[test]
fn explicit_overheads_requests_and_limits_win() {
    let conf = SparkConf::from_pairs(
        &[
            ("spark.executor.memory", "2g"),
            ("spark.executor.memoryOverhead", "1g"),
            ("spark.kubernetes.executor.request.cores", "500m"),
            ("spark.kubernetes.executor.limit.cores", "2"),
            ("spark.driver.memoryOverheadFactor", "0.5"),
            ("spark.driver.memory", "4g"),
            ("spark.memory.offHeap.enabled", "TRUE"),
            ("spark.memory.offHeap.size", "1073741824"),
        ],
        false,
    );
    let s = shape(&conf).unwrap();
    assert_eq!(s.executor.cpu_request.amount, 500);
    assert_eq!(s.executor.cpu_limit.unwrap().amount, 2000);
    assert_eq!(s.executor.memory.amount, (2048 + 1024 + 1024) * MIB);
    assert_eq!(s.driver.memory.amount, (4096 + 2048) * MIB);
}

#[test]
fn dynamic_allocation_starts_with_the_largest_initial_count() {
    let conf = SparkConf::from_pairs(
        &[
            ("spark.dynamicAllocation.enabled", "true"),
            ("spark.dynamicAllocation.minExecutors", "1"),
            ("spark.dynamicAllocation.initialExecutors", "3"),
            ("spark.executor.instances", "2"),
        ],
        false,
    );
    assert_eq!(
        shape(&conf).unwrap().executors,
        Executors {
            initial: 3,
            most: None
        }
    );
}

#[test]
fn hostile_values_name_the_property() {
    for (key, value) in [
        ("spark.executor.cores", "-1"),
        ("spark.executor.cores", "0"),
        ("spark.executor.cores", "2.5"),
        ("spark.executor.cores", "99999999999"),
        ("spark.driver.memory", "1.5g"),
        ("spark.driver.memory", "-4g"),
        ("spark.driver.memory", "9223372036854775807p"),
        ("spark.executor.memory", "9223372036854775807"),
        ("spark.executor.memoryOverheadFactor", "NaN"),
        ("spark.executor.memoryOverheadFactor", "-0.1"),
        ("spark.kubernetes.executor.limit.cores", "lots"),
        ("spark.kubernetes.executor.limit.cores", "0"),
        ("spark.kubernetes.driver.request.cores", "-1"),
        ("spark.executor.instances", "-3"),
        ("spark.dynamicAllocation.enabled", "yes"),
    ] {
        let conf = SparkConf::from_pairs(&[(key, value)], false);
        let error = shape(&conf).unwrap_err();
        assert_eq!((error.key.as_str(), error.value.as_str()), (key, value));
    }
}
