//! The `/ws` connection the page opens before its map code has loaded.
//!
//! A fresh page spends most of its first half second fetching, compiling and starting the
//! wasm; only then did the map open `/ws` and wait a round trip and a snapshot for its
//! first vehicle. [`SCRIPT`], a few lines inline in the page's head, opens the socket at
//! once instead and keeps what arrives; the map adopts that socket with its frames
//! ([`take`]) when it starts, so the snapshot is already there. Every later connection
//! (reconnects) is the map's own.
//!
//! The early socket asks for everything: the page cannot know its view before Leaflet
//! has laid out the map. The map tells the server its view as soon as it adopts the
//! socket, as it does on every connection.

/// The global the inline script leaves the socket under, for [`take`] to remove.
pub const GLOBAL: &str = "__transitEarlySocket";

/// Frames the script keeps before it gives up on the map ever taking them: the snapshot
/// and a few seconds of deltas. A page whose wasm never starts must not hold a socket
/// and a growing list for as long as it stays open.
pub const MAX_FRAMES: usize = 32;

/// The inline script (run with the page's nonce): plain ES5 in a function, leaving one
/// global. Failing to open (no WebSocket, a policy) leaves none, and the map opens its own
/// socket as before.
pub const SCRIPT: &str = concat!(
    "(function(){try{",
    "var l=location,frames=[],",
    "socket=new WebSocket((l.protocol==='https:'?'wss://':'ws://')+l.host+'/ws');",
    "socket.binaryType='arraybuffer';",
    "var keep=function(event){",
    "if(frames.push(event.data)>MAX){socket.removeEventListener('message',keep);",
    "socket.close();delete window.GLOBAL;}};",
    "socket.addEventListener('message',keep);",
    "window.GLOBAL={socket:socket,frames:frames,listener:keep};",
    "}catch(e){}})();"
);

/// [`SCRIPT`] with its names filled in, as the page's head carries it.
pub fn script() -> String {
    SCRIPT.replace("GLOBAL", GLOBAL).replace("MAX", &MAX_FRAMES.to_string())
}

/// Takes the early socket, once, with the frames it has received: `None` when there is
/// none, or it has closed (its close event has already been missed). Synchronous from
/// finding the socket to removing the script's listener, so no frame falls between the
/// script's list and the caller's listeners.
#[cfg(feature = "hydrate")]
pub(crate) fn take() -> Option<(web_sys::WebSocket, Vec<Vec<u8>>)> {
    use wasm_bindgen::JsCast;

    let window = web_sys::window()?;
    let key = wasm_bindgen::JsValue::from_str(GLOBAL);
    let early = js_sys::Reflect::get(&window, &key).ok().filter(|v| v.is_object())?;
    let _ = js_sys::Reflect::delete_property(window.as_ref(), &key);
    let field = |name: &str| js_sys::Reflect::get(&early, &name.into()).ok();
    let socket: web_sys::WebSocket = field("socket")?.dyn_into().ok()?;
    if let Some(listener) = field("listener").and_then(|l| l.dyn_into::<js_sys::Function>().ok()) {
        let _ = socket.remove_event_listener_with_callback("message", &listener);
    }
    if socket.ready_state() > web_sys::WebSocket::OPEN {
        return None;
    }
    let frames: js_sys::Array = field("frames")?.dyn_into().ok()?;
    let frames = frames
        .iter()
        .filter_map(|frame| frame.dyn_into::<js_sys::ArrayBuffer>().ok())
        .map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec())
        .collect();
    Some((socket, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_names_its_global_and_limit_and_nothing_is_left_unfilled() {
        let script = script();
        assert!(script.contains(&format!("window.{GLOBAL}={{")), "{script}");
        assert!(script.contains(&format!(">{MAX_FRAMES})")), "{script}");
        assert!(!script.contains("GLOBAL") && !script.contains("MAX"), "{script}");
        // Inline in the head: nothing in it may end the element.
        assert!(!script.contains("</"), "{script}");
    }
}
