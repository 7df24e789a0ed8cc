//! Where the real evidence samples live (`COCO_VECTORS`, default `../shared/vectors`): the one
//! loader of the workspace, [`coco_core::vectors::dir`].

pub use coco_core::vectors::dir;
