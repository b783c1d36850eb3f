//! Real clients: pip and uv from the test venv (`scripts/test` creates it and
//! sets `LARDER_TEST_VENV`) install through `larder serve`.

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::install::{Install, install};
use crate::common::server::Larder;

#[tokio::test]
async fn pip_and_uv_install_through_larder_then_offline_and_local() {
    for flavor in [Flavor::Html, Flavor::Json] {
        let mut index = FixtureIndex::start(flavor).await;
        let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
        let work = tempfile::tempdir().unwrap();

        install(Install::PipIndex(&larder.simple_url()), work.path()).await;
        install(Install::UvIndex(&larder.simple_url()), work.path()).await;
        for wheel in [
            "larder_demo_app-1.0-py3-none-any.whl",
            "larder_demo_lib-1.1-py3-none-any.whl",
            "larder_demo_util-0.5-py3-none-any.whl",
        ] {
            assert_eq!(
                index.hits(&format!("/packages/{wheel}")),
                1,
                "{flavor:?} {wheel}"
            );
        }

        // The upstream goes away: installs keep working from the cache.
        index.stop().await;
        install(Install::PipIndex(&larder.simple_url()), work.path()).await;
        install(Install::UvIndex(&larder.simple_url()), work.path()).await;
        let local = larder.url("/local/simple/");
        install(Install::PipIndex(&local), work.path()).await;
        install(Install::UvIndex(&local), work.path()).await;
    }
}

#[tokio::test]
async fn uv_reads_wheel_metadata_by_range_without_metadata_files() {
    let index = FixtureIndex::start(Flavor::Json).await;
    index.drop_metadata();
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    let work = tempfile::tempdir().unwrap();
    install(Install::UvIndex(&larder.simple_url()), work.path()).await;
    let metrics = reqwest::get(larder.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("larder_file_misses_total 3"), "{metrics}");
    for wheel in [
        "larder_demo_lib-1.1-py3-none-any.whl",
        "larder_demo_util-0.5-py3-none-any.whl",
    ] {
        assert_eq!(index.hits(&format!("/packages/{wheel}.metadata")), 0);
        assert_eq!(index.hits(&format!("/packages/{wheel}")), 1, "{wheel}");
    }
}
