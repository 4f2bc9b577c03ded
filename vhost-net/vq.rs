// SPDX-License-Identifier: GPL-2.0

//! One virtqueue of vhost-net: the shared vhost queue (rust/vhost/vq.rs), served by a
//! socket, with the data path's buffers.

use crate::{backend::Socket, net::Scratch};

/// A vhost-net virtqueue.
pub(crate) type Vq = crate::vhost::vq::Vq<Socket, Scratch>;
