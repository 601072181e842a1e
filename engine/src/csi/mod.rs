//! The node side of the Container Storage Interface (v1, gRPC over a unix
//! socket), as a container orchestrator drives a node plugin:
//! NodeGetCapabilities, NodeStageVolume when the plugin stages,
//! NodePublishVolume into the container's directory before create, and
//! NodeUnpublishVolume and NodeUnstageVolume at cleanup.

pub mod proto;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tonic::codegen::http::uri::PathAndQuery;

use proto::*;

/// A connection to one plugin's socket, with a runtime of its own: the
/// engine is synchronous, and a CSI call is the only async thing it does.
pub struct Plugin {
    socket: PathBuf,
    rt: tokio::runtime::Runtime,
    channel: tonic::transport::Channel,
}

impl Plugin {
    pub fn connect(socket: &Path) -> Result<Plugin> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .context("start a runtime for the CSI calls")?;
        let path = socket.to_path_buf();
        let channel = rt
            .block_on(async move {
                // The URI is required and unused: the connector dials the socket.
                tonic::transport::Endpoint::try_from("http://[::]:50051")?
                    .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                        let path = path.clone();
                        async move {
                            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                                tokio::net::UnixStream::connect(path).await?,
                            ))
                        }
                    }))
                    .await
            })
            .with_context(|| format!("CSI plugin {}: connect", socket.display()))?;
        Ok(Plugin {
            socket: socket.to_path_buf(),
            rt,
            channel,
        })
    }

    fn call<Req, Resp>(&self, method: &'static str, req: Req) -> Result<Resp>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let path = PathAndQuery::from_static(method);
        let out = self.rt.block_on(async move {
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            grpc.unary(tonic::Request::new(req), path, tonic::codec::ProstCodec::default())
                .await
        });
        match out {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => anyhow::bail!(
                "CSI plugin {}: {}: {:?}: {}",
                self.socket.display(),
                method.rsplit('/').next().unwrap_or(method),
                s.code(),
                s.message()
            ),
        }
    }

    pub fn stages(&self) -> Result<bool> {
        let caps: NodeGetCapabilitiesResponse =
            self.call("/csi.v1.Node/NodeGetCapabilities", NodeGetCapabilitiesRequest {})?;
        Ok(caps
            .capabilities
            .iter()
            .any(|c| c.rpc.as_ref().is_some_and(|r| r.r#type == STAGE_UNSTAGE_VOLUME)))
    }

    pub fn stage(&self, volume: &str, staging: &Path, readonly: bool) -> Result<()> {
        let _: Empty = self.call(
            "/csi.v1.Node/NodeStageVolume",
            NodeStageVolumeRequest {
                volume_id: volume.into(),
                staging_target_path: staging.display().to_string(),
                volume_capability: Some(capability(readonly)),
                ..Default::default()
            },
        )?;
        Ok(())
    }

    pub fn publish(&self, volume: &str, staging: Option<&Path>, target: &Path, readonly: bool) -> Result<()> {
        let _: Empty = self.call(
            "/csi.v1.Node/NodePublishVolume",
            NodePublishVolumeRequest {
                volume_id: volume.into(),
                staging_target_path: staging.map(|s| s.display().to_string()).unwrap_or_default(),
                target_path: target.display().to_string(),
                volume_capability: Some(capability(readonly)),
                readonly,
                ..Default::default()
            },
        )?;
        Ok(())
    }

    pub fn unpublish(&self, volume: &str, target: &Path) -> Result<()> {
        let _: Empty = self.call(
            "/csi.v1.Node/NodeUnpublishVolume",
            NodeUnpublishVolumeRequest {
                volume_id: volume.into(),
                target_path: target.display().to_string(),
            },
        )?;
        Ok(())
    }

    pub fn unstage(&self, volume: &str, staging: &Path) -> Result<()> {
        let _: Empty = self.call(
            "/csi.v1.Node/NodeUnstageVolume",
            NodeUnstageVolumeRequest {
                volume_id: volume.into(),
                staging_target_path: staging.display().to_string(),
            },
        )?;
        Ok(())
    }
}

/// A mounted filesystem, written by one node (or read only).
fn capability(readonly: bool) -> VolumeCapability {
    VolumeCapability {
        mount: Some(MountVolume::default()),
        access_mode: Some(AccessMode {
            mode: if readonly {
                SINGLE_NODE_READER_ONLY
            } else {
                SINGLE_NODE_WRITER
            },
        }),
    }
}
