//! The reasons counters are split by on `/metrics`: closed sets, each value with a stable
//! label, so that every rejection, drop, resync and refusal says why.

/// A closed set of reasons with stable labels.
pub trait Reason: Copy + Eq + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
}

macro_rules! reasons {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$variant_doc])* $variant),+
        }

        impl Reason for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];

            fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $label),+
                }
            }
        }
    };
}

impl Reason for crate::hfp::RejectKind {
    const ALL: &'static [Self] = &Self::ALL;

    fn as_str(self) -> &'static str {
        crate::hfp::RejectKind::as_str(&self)
    }
}

/// An `/api/` error, by its stable code.
impl Reason for app::error::ApiError {
    const ALL: &'static [Self] = &[
        Self::InvalidVehicleId,
        Self::VehicleNotFound,
        Self::Unavailable,
        Self::Transport,
        Self::TooManyClients,
        Self::BadRequest,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Timeout,
        Self::TooLarge,
    ];

    fn as_str(self) -> &'static str {
        self.code()
    }
}

impl Reason for crate::positions::Upsert {
    const ALL: &'static [Self] =
        &[Self::Inserted, Self::Moved, Self::Refreshed, Self::Duplicate, Self::Stale];

    fn as_str(self) -> &'static str {
        match self {
            Self::Inserted => "inserted",
            Self::Moved => "moved",
            Self::Refreshed => "refreshed",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
        }
    }
}

reasons! {
    /// Why a WebSocket (or `/api/stream`) client was turned away before it began.
    WsRefusal {
        /// `--max-ws-clients` are connected.
        Full => "full",
        /// A page of an origin not allowed.
        Origin => "origin",
        /// A malformed `view` parameter.
        BadRequest => "bad_request",
    }
}

reasons! {
    /// Why a connected WebSocket client was dropped.
    WsDrop {
        /// A send made no progress for the send timeout: it stopped reading.
        Slow => "slow",
        /// It sent a message over the size limit.
        TooLarge => "too_large",
        /// It sent text that is not UTF-8.
        InvalidUtf8 => "invalid_utf8",
        /// It broke the WebSocket protocol.
        Protocol => "protocol",
    }
}

reasons! {
    /// Why a client's message was ignored.
    WsIgnored {
        /// Text: the page only sends binary view messages.
        Text => "text",
        /// Binary, but not a view message (`app::wire::client`).
        Malformed => "malformed",
    }
}

reasons! {
    /// Why the server closed an HTTP connection itself.
    HttpClosed {
        /// Part of a request arrived, but not all of its headers in time (slowloris). A
        /// connection that sent nothing in time is counted apart, as routine
        /// (`Stats::http_idle_closed`).
        HeaderTimeout => "header_timeout",
        /// A write made no progress in time: the client stopped reading.
        WriteStall => "write_stall",
        /// Its address already held as many connections as it may.
        AddressAtCap => "address_at_cap",
    }
}

reasons! {
    /// Why a live client was started over from a snapshot.
    Resync {
        /// It fell further behind the broadcast than the channel holds.
        Lagged => "lagged",
    }
}

reasons! {
    /// Why a ksqlDB row did not become a position.
    RowRejection {
        /// The result lacks a column the table has.
        MissingColumn => "missing_column",
        /// The row's width is not the header's.
        Width => "width",
        /// A value is missing or of the wrong type.
        BadValue => "bad_value",
    }
}

reasons! {
    /// Why a Redis value under a vehicle key did not become a position.
    RedisRejection {
        /// A hash, list or other type.
        NotAString => "not_a_string",
        /// Larger than a row can be.
        TooLarge => "too_large",
        NotUtf8 => "not_utf8",
        /// JSON, but not a `VEHICLE_LATEST` row.
        NotARow => "not_a_row",
        Coordinates => "coordinates",
        /// A reply neither our fetch script nor `GETRANGE` can give.
        UnexpectedReply => "unexpected_reply",
    }
}

reasons! {
    /// Why a Redis key was left out of a listing.
    RedisSkip {
        /// It matches the key pattern but is no vehicle id (the sink's offsets).
        NotAVehicle => "not_a_vehicle",
    }
}

reasons! {
    /// Why a replay stopped.
    ReplayFailure {
        /// The file could not be read (missing, unreadable, corrupt compression).
        Io => "io",
        /// It is not a recording.
        NotARecording => "not_a_recording",
        /// A record's time cannot be scheduled.
        Unschedulable => "unschedulable",
    }
}

reasons! {
    /// Why a lookup went to the fallback store.
    LookupFallback {
        /// The first store does not have the vehicle.
        Miss => "miss",
        /// The first store failed (down, hung).
        Error => "error",
    }
}
