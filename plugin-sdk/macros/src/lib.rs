//! `#[portico_sdk::plugin]`: turns an `impl Handler | Validator | Guard | Filter |
//! HttpHandler for T`
//! into a WebAssembly component export.
//!
//! The attribute keeps the impl as written (so it stays testable natively) and adds a
//! hidden module that generates the world's bindings with the SDK's re-exported
//! `wit_bindgen`, implements the generated `Guest` trait by calling the SDK's glue,
//! and exports it. Plugin crates therefore depend on `portico-sdk` alone.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{ItemImpl, Type, parse_macro_input};

/// The WIT package, resolved when this macro crate is built.
const WIT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit");

/// Exports the annotated trait impl as this crate's plugin component.
///
/// ```ignore
/// #[portico_sdk::plugin]
/// impl portico_sdk::Handler for Chat { /* ... */ }
/// ```
#[proc_macro_attribute]
pub fn plugin(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let attr = Tokens::from(attr);
        return syn::Error::new_spanned(attr, "#[plugin] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = parse_macro_input!(item as ItemImpl);
    match expand(&item) {
        Ok(glue) => quote!(#item #glue).into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#item #err).into()
        }
    }
}

fn expand(item: &ItemImpl) -> syn::Result<Tokens> {
    let Some((_, trait_path, _)) = &item.trait_ else {
        return Err(syn::Error::new_spanned(
            &item.self_ty,
            "#[plugin] goes on `impl Handler for T` (or Validator, Guard, Filter, HttpHandler)",
        ));
    };
    let Some(last) = trait_path.segments.last() else {
        return Err(syn::Error::new_spanned(trait_path, "expected a trait name"));
    };
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "a plugin type cannot be generic",
        ));
    }
    let ty: &Type = &item.self_ty;
    let (world, guest) = match last.ident.to_string().as_str() {
        "Handler" => ("handler-plugin", handler_guest(ty)),
        "Validator" => ("validator-plugin", validator_guest(ty)),
        "Guard" => ("guard-plugin", guard_guest(ty)),
        "Filter" => ("filter-plugin", filter_guest(ty)),
        "HttpHandler" => ("http-handler-plugin", http_guest(ty)),
        _ => {
            return Err(syn::Error::new_spanned(
                &last.ident,
                "#[plugin] works on impls of portico_sdk::Handler, Validator, Guard, Filter or HttpHandler",
            ));
        }
    };
    let http = world == "http-handler-plugin";
    let host = host_impl(world == "handler-plugin" || http, !http);
    // Conversions of the shared `types`, which the HTTP world does not use.
    let conversions = if http { Tokens::new() } else { type_conversions() };
    let world = format!("portico:plugin/{world}");
    let module = format_ident!("__portico_plugin_export");
    Ok(quote! {
        // Only a WebAssembly build exports anything; natively the impl is plain Rust
        // for `cargo test`.
        #[cfg(target_family = "wasm")]
        #[doc(hidden)]
        #[allow(missing_docs, unsafe_code, unused, clippy::all)]
        mod #module {
            ::portico_sdk::__wit_bindgen::generate!({
                path: #WIT_DIR,
                world: #world,
                runtime_path: "::portico_sdk::__wit_bindgen::rt",
            });

            #conversions

            #host

            struct __Export;
            #guest
            export!(__Export);
        }
    })
}

/// Conversions between the SDK's types and the generated `types` interface.
fn type_conversions() -> Tokens {
    quote! {
        use portico::plugin::types;

        fn payload_in(p: types::Payload) -> ::portico_sdk::Payload {
            ::portico_sdk::Payload { json: p.json, attachments: p.attachments }
        }

        fn payload_out(p: ::portico_sdk::Payload) -> types::Payload {
            types::Payload { json: p.json, attachments: p.attachments }
        }

        fn data_out(data: ::core::option::Option<::portico_sdk::Value>) -> ::core::option::Option<::std::string::String> {
            data.map(|d| d.to_string())
        }

        fn error_out(e: ::portico_sdk::Error) -> types::Error {
            types::Error { code: e.code, message: e.message, data_json: data_out(e.data) }
        }

        fn error_in(e: types::Error) -> ::portico_sdk::Error {
            ::portico_sdk::Error {
                code: e.code,
                message: e.message,
                data: e.data_json.and_then(|d| ::portico_sdk::serde_json::from_str(&d).ok()),
            }
        }
    }
}

fn handler_guest(ty: &Type) -> Tokens {
    quote! {
        impl exports::portico::plugin::handler::Guest for __Export {
            fn on_connect(socket: &portico::plugin::socket::Socket) -> ::core::result::Result<(), types::Error> {
                ::portico_sdk::__rt::on_connect::<super::#ty>(&__Host(Some(socket))).map_err(error_out)
            }
            fn on_event(
                socket: &portico::plugin::socket::Socket,
                event: ::std::string::String,
                payload: types::Payload,
            ) -> ::core::result::Result<::core::option::Option<types::Payload>, types::Error> {
                ::portico_sdk::__rt::on_event::<super::#ty>(&__Host(Some(socket)), &event, payload_in(payload))
                    .map(|ack| ack.map(payload_out))
                    .map_err(error_out)
            }
            fn on_disconnect(socket: &portico::plugin::socket::Socket, reason: ::std::string::String) {
                ::portico_sdk::__rt::on_disconnect::<super::#ty>(&__Host(Some(socket)), &reason)
            }
            fn on_server_event(
                namespace: ::std::string::String,
                event: ::std::string::String,
                args: types::Payload,
            ) -> ::core::option::Option<types::Payload> {
                ::portico_sdk::__rt::on_server_event::<super::#ty>(&__Host(None), namespace, &event, payload_in(args))
                    .map(payload_out)
            }
        }
    }
}

fn validator_guest(ty: &Type) -> Tokens {
    quote! {
        impl exports::portico::plugin::validator::Guest for __Export {
            fn validate(
                socket: &portico::plugin::socket::Socket,
                event: ::std::string::String,
                payload: types::Payload,
            ) -> ::core::result::Result<types::Payload, ::std::vec::Vec<types::Violation>> {
                ::portico_sdk::__rt::validate::<super::#ty>(&__Host(Some(socket)), &event, payload_in(payload))
                    .map(payload_out)
                    .map_err(|vs| {
                        vs.into_iter().map(|v| types::Violation { property: v.property, message: v.message }).collect()
                    })
            }
        }
    }
}

fn guard_guest(ty: &Type) -> Tokens {
    quote! {
        impl exports::portico::plugin::guard::Guest for __Export {
            fn authorize(
                socket: &portico::plugin::socket::Socket,
                event: ::std::string::String,
                payload_json: ::std::string::String,
            ) -> ::core::result::Result<(), types::Error> {
                ::portico_sdk::__rt::authorize::<super::#ty>(&__Host(Some(socket)), &event, &payload_json).map_err(error_out)
            }
        }
    }
}

fn filter_guest(ty: &Type) -> Tokens {
    quote! {
        impl exports::portico::plugin::filter::Guest for __Export {
            fn catch(
                socket: &portico::plugin::socket::Socket,
                event: ::std::string::String,
                payload: types::Payload,
                error: types::Error,
            ) -> ::core::option::Option<::std::string::String> {
                ::portico_sdk::__rt::catch::<super::#ty>(&__Host(Some(socket)), &event, &payload_in(payload), error_in(error))
            }
        }
    }
}

fn http_guest(ty: &Type) -> Tokens {
    quote! {
        impl exports::portico::plugin::http_handler::Guest for __Export {
            fn handle(
                request: exports::portico::plugin::http_handler::Request,
            ) -> exports::portico::plugin::http_handler::Response {
                let request = ::portico_sdk::http::Request {
                    method: request.method,
                    path: request.path,
                    query: request.query,
                    headers: request.headers,
                    body: request.body,
                };
                let response = ::portico_sdk::__rt::handle_http::<super::#ty>(&__Host(None), request);
                exports::portico::plugin::http_handler::Response {
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                }
            }
        }
    }
}

/// The SDK's `Host` over the generated imports, answering for the call's socket
/// (`None` in calls that have none); worlds without `sockets`, `store` or `socket`
/// get inert versions the SDK never calls there.
fn host_impl(full: bool, has_socket: bool) -> Tokens {
    let (socket_type, socket_fns) = if has_socket {
        let ty = quote! { type __Socket = portico::plugin::socket::Socket; };
        let fns = quote! {
            fn socket_id(&self) -> ::std::string::String { self.0.map(|s| s.id()).unwrap_or_default() }
            fn socket_namespace(&self) -> ::std::string::String { self.0.map(|s| s.namespace()).unwrap_or_default() }
            fn socket_user_json(&self) -> ::core::option::Option<::std::string::String> { self.0.and_then(|s| s.user_json()) }
            fn socket_auth_json(&self) -> ::std::string::String { self.0.map(|s| s.auth_json()).unwrap_or_else(|| "{}".into()) }
            fn socket_headers(&self) -> ::std::vec::Vec<(::std::string::String, ::std::string::String)> { self.0.map(|s| s.headers()).unwrap_or_default() }
            fn socket_query(&self) -> ::std::string::String { self.0.map(|s| s.query()).unwrap_or_default() }
            fn socket_rooms(&self) -> ::std::vec::Vec<::std::string::String> { self.0.map(|s| s.rooms()).unwrap_or_default() }
        };
        (ty, fns)
    } else {
        // The HTTP world has no `socket` interface: calls there never have one.
        let ty = quote! { type __Socket = (); };
        let fns = quote! {
            fn socket_id(&self) -> ::std::string::String { ::std::string::String::new() }
            fn socket_namespace(&self) -> ::std::string::String { ::std::string::String::new() }
            fn socket_user_json(&self) -> ::core::option::Option<::std::string::String> { None }
            fn socket_auth_json(&self) -> ::std::string::String { "{}".into() }
            fn socket_headers(&self) -> ::std::vec::Vec<(::std::string::String, ::std::string::String)> { ::std::vec::Vec::new() }
            fn socket_query(&self) -> ::std::string::String { ::std::string::String::new() }
            fn socket_rooms(&self) -> ::std::vec::Vec<::std::string::String> { ::std::vec::Vec::new() }
        };
        (ty, fns)
    };
    let handler_imports = if full {
        quote! {
            fn emit(&self, namespace: ::core::option::Option<&str>, event: &str, payload: ::portico_sdk::Payload, to: &::portico_sdk::Target, except_rooms: &[::std::string::String], except_sender: bool) {
                use portico::plugin::sockets::Target as T;
                let to = match to {
                    ::portico_sdk::Target::All => T::All,
                    ::portico_sdk::Target::Rooms(rooms) => T::Rooms(rooms.clone()),
                    ::portico_sdk::Target::Socket(id) => T::Socket(id.clone()),
                    ::portico_sdk::Target::User(id) => T::User(id.clone()),
                };
                let payload = portico::plugin::types::Payload { json: payload.json, attachments: payload.attachments };
                portico::plugin::sockets::emit(namespace, event, &payload, &to, except_rooms, except_sender)
            }
            fn join(&self, room: &str, socket: ::core::option::Option<&str>) { portico::plugin::sockets::join(room, socket) }
            fn leave(&self, room: &str, socket: ::core::option::Option<&str>) { portico::plugin::sockets::leave(room, socket) }
            fn disconnect(&self, socket: ::core::option::Option<&str>) { portico::plugin::sockets::disconnect(socket) }
            fn kv_get(&self, key: &str) -> ::core::option::Option<::std::string::String> { portico::plugin::store::kv_get(key) }
            fn kv_set(&self, key: &str, value: &str, ttl_ms: ::core::option::Option<u64>) { portico::plugin::store::kv_set(key, value, ttl_ms) }
            fn kv_delete(&self, key: &str) -> bool { portico::plugin::store::kv_delete(key) }
            fn kv_incr(&self, key: &str, delta: i64) -> i64 { portico::plugin::store::kv_incr(key, delta) }
            fn history_append(&self, room: &str, entry_json: &str, max_len: u32) { portico::plugin::store::history_append(room, entry_json, max_len) }
            fn history_range(&self, room: &str, limit: u32) -> ::std::vec::Vec<::std::string::String> { portico::plugin::store::history_range(room, limit) }
            fn online_users(&self, namespace: ::core::option::Option<&str>) -> ::std::vec::Vec<::portico_sdk::OnlineUser> {
                portico::plugin::presence::online_users(namespace)
                    .into_iter()
                    .map(|u| ::portico_sdk::OnlineUser { user_id: u.user_id, username: u.username, sockets: u.sockets })
                    .collect()
            }
            fn user_sockets(&self, namespace: ::core::option::Option<&str>, user_id: &str) -> ::std::vec::Vec<::std::string::String> { portico::plugin::presence::user_sockets(namespace, user_id) }
            fn is_online(&self, namespace: ::core::option::Option<&str>, user_id: &str) -> bool { portico::plugin::presence::is_online(namespace, user_id) }
        }
    } else {
        quote! {
            fn emit(&self, _: ::core::option::Option<&str>, _: &str, _: ::portico_sdk::Payload, _: &::portico_sdk::Target, _: &[::std::string::String], _: bool) {}
            fn join(&self, _: &str, _: ::core::option::Option<&str>) {}
            fn leave(&self, _: &str, _: ::core::option::Option<&str>) {}
            fn disconnect(&self, _: ::core::option::Option<&str>) {}
            fn kv_get(&self, _: &str) -> ::core::option::Option<::std::string::String> { None }
            fn kv_set(&self, _: &str, _: &str, _: ::core::option::Option<u64>) {}
            fn kv_delete(&self, _: &str) -> bool { false }
            fn kv_incr(&self, _: &str, _: i64) -> i64 { 0 }
            fn history_append(&self, _: &str, _: &str, _: u32) {}
            fn history_range(&self, _: &str, _: u32) -> ::std::vec::Vec<::std::string::String> { ::std::vec::Vec::new() }
            fn online_users(&self, _: ::core::option::Option<&str>) -> ::std::vec::Vec<::portico_sdk::OnlineUser> { ::std::vec::Vec::new() }
            fn user_sockets(&self, _: ::core::option::Option<&str>, _: &str) -> ::std::vec::Vec<::std::string::String> { ::std::vec::Vec::new() }
            fn is_online(&self, _: ::core::option::Option<&str>, _: &str) -> bool { false }
        }
    };
    quote! {
        #socket_type
        struct __Host<'a>(::core::option::Option<&'a __Socket>);
        impl ::portico_sdk::Host for __Host<'_> {
            fn log(&self, level: ::portico_sdk::Level, message: &str) {
                use portico::plugin::log::Level as L;
                let level = match level {
                    ::portico_sdk::Level::Trace => L::Trace,
                    ::portico_sdk::Level::Debug => L::Debug,
                    ::portico_sdk::Level::Info => L::Info,
                    ::portico_sdk::Level::Warn => L::Warn,
                    ::portico_sdk::Level::Error => L::Error,
                };
                portico::plugin::log::log(level, message)
            }
            fn config(&self) -> ::std::string::String { portico::plugin::config::get() }
            #socket_fns
            #handler_imports
        }
    }
}
