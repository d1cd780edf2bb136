-- SPDX-License-Identifier: BSD-3-Clause
--
-- Wireshark/tshark dissector for the faii wire protocol, versions 1 and 2
-- (version 2: TASK and RESULT bodies end with the 40-byte auth block).
--
-- docs/protocol.md is the normative description and include/faii/protocol.h
-- its C form; this file follows both field for field. Every message is also
-- checked with the rules of faii_parse() (common/wire.c), in the same order,
-- and a message the appliance would drop carries the parser's drop reason
-- (faii.drop_reason, the counter name used by metrics) and an expert item
-- (faii.drop.<reason>). Malformed input never raises a Lua error.
--
-- Usage:
--   tshark -X lua_script:tools/wireshark/faii.lua -r file.pcap
--   tshark -X lua_script:tools/wireshark/faii.lua -o faii.udp_port:7500 ...
-- or copy the file into the personal Lua plugins folder of Wireshark.
-- Registered on UDP port 7410; the port is the preference faii.udp_port,
-- and "Decode As... faii" works on any other port.

local FAII_MAGIC = 0xFA11
local FAII_VERSION = 1
local FAII_VERSION_2 = 2
local AUTH_BLOCK = 40 -- version 2: nonce 8, handle 8, key_epoch 1, reserved 7, mac 16
local FAII_UDP_PORT_DEFAULT = 7410
local FAII_MSG_SIZE_MAX = 1400
local HDR = 8 -- header size; body offsets below are relative to its end

local F_DISPATCHED = 0x01
local F_REPLICA = 0x02

-- Bitwise AND: bit32 on Lua 5.2, the native operator on Lua 5.3 and later.
local band = (bit32 and bit32.band) or (bit and bit.band)
	or load("return function(a, b) return a & b end")()

local faii = Proto("faii", "faii wire protocol")

------------------------------------------------------------------------------
-- Value strings (enums of protocol.h)

local msg_types = {
	[1] = "TASK", [2] = "RESULT", [3] = "HEARTBEAT", [4] = "ATTEST", [5] = "REGISTER",
}
local body_size = { [1] = 56, [2] = 64, [3] = 120, [4] = 132, [5] = 152 }
local function version_known(v) return v == FAII_VERSION or v == FAII_VERSION_2 end
-- Body size of a type in a version (version 2 adds the auth block to TASK, RESULT).
local function size_of(version, mtype)
	local size = body_size[mtype]
	if size ~= nil and version == FAII_VERSION_2 and (mtype == 1 or mtype == 2) then
		size = size + AUTH_BLOCK
	end
	return size
end

local categories = {
	[1] = "edge_inference", [2] = "storage_shard", [3] = "dag_validation",
	[4] = "interactive_inference", [5] = "batch_inference", [6] = "ledger_work",
}
local CATEGORY_COUNT = 6
local bit_of = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20 } -- eligibility bit, index: category
local tier_of = { 1, 2, 2, 3, 4, 4 } -- index: category

local consistency = { [0] = "eventual", [1] = "session", [2] = "strong" }
local replicas_of = { [0] = 1, [1] = 3, [2] = 7 }
local REPLICAS_MAX = 7

local node_classes = { [0] = "micro", [1] = "small", [2] = "medium", [3] = "large", [4] = "xl" }

local result_status = {
	[0] = "ok", [1] = "error", [2] = "no_feasible_node", [3] = "timeout", [4] = "refused", [5] = "no_quorum",
}

local energy_sources = {
	"solar", "wind", "hydro", "geothermal", "biomass", "hydrogen", "waste", "nonrenewable",
}
local RENEWABLE_COUNT = 7

local addr_families = { [4] = "IPv4", [6] = "IPv6" }

-- Message-level drop reasons of include/faii/wire.h: counter name, meaning.
-- The frame-level ones (not_ip ... wrong_port) belong to the appliance's
-- Ethernet/IP/UDP checks, which Wireshark's own dissectors cover.
local drop_reasons = {
	{ "too_short", "shorter than the fixed header or the type's body" },
	{ "bad_magic", "magic is not 0xFA11" },
	{ "bad_version", "protocol version not supported" },
	{ "unknown_type", "message type not defined" },
	{ "bad_length", "header length differs from the datagram or type" },
	{ "bad_flags", "undefined or misplaced flag bits set" },
	{ "reserved_nonzero", "a reserved field is not zero" },
	{ "bad_payload_length", "payload length inconsistent" },
	{ "unknown_category", "task category not defined" },
	{ "unknown_tier", "tier outside 1..4" },
	{ "tier_mismatch", "tier differs from the category's tier" },
	{ "bad_consistency", "consistency not eventual/session/strong" },
	{ "bad_replica", "replica index or flag inconsistent" },
	{ "bad_attempt", "re-dispatch attempt above 1" },
	{ "bad_residency_class", "residency class 0 or too large" },
	{ "bad_region", "origin region 0 or too large" },
	{ "bad_reputation", "minimum reputation above 1000" },
	{ "bad_budget", "latency budget is zero" },
	{ "bad_timestamp", "timestamp is zero" },
	{ "bad_dispatch", "dispatch fields inconsistent with flags" },
	{ "bad_node_id", "node id 0 or too large" },
	{ "bad_status", "result status not defined" },
	{ "bad_load", "load above 1000 permille" },
	{ "bad_interval", "attestation interval is zero" },
	{ "bad_pue", "PUE below 1.000" },
	{ "bad_energy_to_work", "energy-to-work is zero" },
	{ "bad_grid_stress", "grid stress above 1000 permille" },
	{ "bad_energy_mix", "energy source mix does not sum to 1000" },
	{ "bad_node_class", "node class not micro/S/M/L/XL" },
	{ "bad_eligibility", "eligibility names undefined categories" },
	{ "bad_country", "country is not two upper-case letters" },
	{ "bad_address", "address family unknown or IPv4 tail non-zero" },
	{ "bad_port", "UDP port is zero" },
	{ "bad_capacity", "capacity is zero" },
}

------------------------------------------------------------------------------
-- Fields

local f = {}
local function u8(abbr, name, base_, vs, mask)
	return ProtoField.uint8(abbr, name, base_ or base.DEC, vs, mask)
end
local function u16(abbr, name, base_, vs) return ProtoField.uint16(abbr, name, base_ or base.DEC, vs) end
local function u32(abbr, name, base_) return ProtoField.uint32(abbr, name, base_ or base.DEC) end
local function u64(abbr, name, base_) return ProtoField.uint64(abbr, name, base_ or base.DEC) end
local function bytes(abbr, name) return ProtoField.bytes(abbr, name) end

-- Header
f.magic = u16("faii.magic", "Magic", base.HEX)
f.version = u8("faii.version", "Version")
f.type = u8("faii.type", "Type", base.DEC, msg_types)
f.length = u16("faii.length", "Length")
f.flags = u8("faii.flags", "Flags", base.HEX)
f.flags_dispatched = ProtoField.bool("faii.flags.dispatched", "DISPATCHED", 8, nil, F_DISPATCHED)
f.flags_replica = ProtoField.bool("faii.flags.replica", "REPLICA", 8, nil, F_REPLICA)
f.flags_undefined = u8("faii.flags.undefined", "Undefined bits", base.HEX, nil, 0xFC)
f.reserved = u8("faii.reserved", "Reserved", base.HEX)

-- TASK
f.task_task_id = u64("faii.task.task_id", "Task ID", base.HEX)
f.task_client_id = u64("faii.task.client_id", "Client ID", base.HEX)
f.task_submit_ts_ns = u64("faii.task.submit_ts_ns", "Submit timestamp (ns)")
f.task_dispatch_ts_ns = u64("faii.task.dispatch_ts_ns", "Dispatch timestamp (ns)")
f.task_node_id = u32("faii.task.node_id", "Node ID")
f.task_latency_budget_us = u32("faii.task.latency_budget_us", "Latency budget (us)")
f.task_origin_region = u16("faii.task.origin_region", "Origin region")
f.task_residency_class = u16("faii.task.residency_class", "Residency class")
f.task_min_reputation_milli = u16("faii.task.min_reputation_milli", "Minimum reputation (1/1000)")
f.task_payload_len = u16("faii.task.payload_len", "Payload length")
f.task_category = u8("faii.task.category", "Category", base.DEC, categories)
f.task_tier = u8("faii.task.tier", "Tier")
f.task_consistency = u8("faii.task.consistency", "Consistency", base.DEC, consistency)
f.task_replica_index = u8("faii.task.replica_index", "Replica index")
f.task_attempt = u8("faii.task.attempt", "Attempt")
f.task_reserved = bytes("faii.task.reserved", "Reserved")
f.task_payload = bytes("faii.task.payload", "Payload")

-- RESULT
f.result_task_id = u64("faii.result.task_id", "Task ID", base.HEX)
f.result_dispatch_ts_ns = u64("faii.result.dispatch_ts_ns", "Dispatch timestamp (ns)")
f.result_node_id = u32("faii.result.node_id", "Node ID")
f.result_exec_time_us = u32("faii.result.exec_time_us", "Execution time (us)")
f.result_status = u8("faii.result.status", "Status", base.DEC, result_status)
f.result_replica_index = u8("faii.result.replica_index", "Replica index")
f.result_payload_len = u16("faii.result.payload_len", "Payload length")
f.result_reserved = u32("faii.result.reserved", "Reserved", base.HEX)
f.result_result_hash = bytes("faii.result.result_hash", "Result hash")
f.result_payload = bytes("faii.result.payload", "Payload")

-- Version 2's auth block (TASK and RESULT)
f.auth_nonce = bytes("faii.auth.nonce", "Dispatch nonce")
f.auth_handle = bytes("faii.auth.handle", "Dispatch handle")
f.auth_key_epoch = u8("faii.auth.key_epoch", "Key epoch")
f.auth_reserved = bytes("faii.auth.reserved", "Reserved")
f.auth_mac = bytes("faii.auth.mac", "MAC")

-- HEARTBEAT
f.heartbeat_node_id = u32("faii.heartbeat.node_id", "Node ID")
f.heartbeat_seq = u32("faii.heartbeat.seq", "Sequence")
f.heartbeat_timestamp_ns = u64("faii.heartbeat.timestamp_ns", "Timestamp (ns)")
f.heartbeat_uptime_s = u64("faii.heartbeat.uptime_s", "Uptime (s)")
f.heartbeat_tasks_completed = u64("faii.heartbeat.tasks_completed", "Tasks completed")
f.heartbeat_tasks_failed = u64("faii.heartbeat.tasks_failed", "Tasks failed")
f.heartbeat_outstanding_tasks = u32("faii.heartbeat.outstanding_tasks", "Outstanding tasks")
f.heartbeat_queue_depth = u32("faii.heartbeat.queue_depth", "Queue depth")
f.heartbeat_load_permille = u32("faii.heartbeat.load_permille", "Load (permille)")
f.heartbeat_reserved = u32("faii.heartbeat.reserved", "Reserved", base.HEX)
f.heartbeat_signature = bytes("faii.heartbeat.signature", "Signature (Ed25519)")

-- ATTEST
f.attest_node_id = u32("faii.attest.node_id", "Node ID")
f.attest_seq = u32("faii.attest.seq", "Sequence")
f.attest_timestamp_ns = u64("faii.attest.timestamp_ns", "Timestamp (ns)")
f.attest_meter_id = u64("faii.attest.meter_id", "Meter ID", base.HEX)
f.attest_interval_start_s = u64("faii.attest.interval_start_s", "Interval start (s)")
f.attest_interval_s = u32("faii.attest.interval_s", "Interval (s)")
f.attest_energy_wh = u32("faii.attest.energy_wh", "Energy (Wh)")
f.attest_pue_milli = u32("faii.attest.pue_milli", "PUE (1/1000)")
f.attest_energy_to_work_milli = u32("faii.attest.energy_to_work_milli", "Energy to work (1/1000 Wh per task unit)")
f.attest_grid_stress_permille = u16("faii.attest.grid_stress_permille", "Grid stress (permille)")
f.attest_source_mix = ProtoField.none("faii.attest.source_mix", "Energy source mix")
for _, src in ipairs(energy_sources) do
	f["attest_source_mix_" .. src] = u16("faii.attest.source_mix." .. src, src .. " (permille)")
end
f.attest_source_mix_sum = u16("faii.attest.source_mix.sum", "Sum (permille)")
f.attest_source_mix_renewable = u16("faii.attest.source_mix.renewable", "Renewable share (permille)")
f.attest_reserved = u16("faii.attest.reserved", "Reserved", base.HEX)
f.attest_signature = bytes("faii.attest.signature", "Signature (Ed25519)")

-- REGISTER
f.register_node_id = u32("faii.register.node_id", "Node ID")
f.register_operator_id = u32("faii.register.operator_id", "Operator ID", base.HEX)
f.register_asn = u32("faii.register.asn", "AS number")
f.register_capacity_tasks_per_s = u32("faii.register.capacity_tasks_per_s", "Capacity (tasks/s)")
f.register_price_micro = u32("faii.register.price_micro", "Price per task unit (1e-6)")
f.register_region = u16("faii.register.region", "Region")
f.register_node_class = u8("faii.register.node_class", "Node class", base.DEC, node_classes)
f.register_eligibility = u8("faii.register.eligibility", "Eligibility", base.HEX)
for cat, name in ipairs(categories) do
	f["register_eligibility_" .. name] = ProtoField.bool("faii.register.eligibility." .. name,
		name, 8, { "eligible", "not eligible" }, bit_of[cat])
end
f.register_eligibility_undefined = u8("faii.register.eligibility.undefined", "Undefined bits",
	base.HEX, nil, 0xC0)
f.register_country = ProtoField.string("faii.register.country", "Country")
f.register_addr_family = u8("faii.register.addr_family", "Address family", base.DEC, addr_families)
f.register_reserved = u8("faii.register.reserved", "Reserved", base.HEX)
f.register_addr = ProtoField.ipv4("faii.register.addr", "Address")
f.register_addr6 = ProtoField.ipv6("faii.register.addr6", "Address")
f.register_addr_tail = bytes("faii.register.addr_tail", "Address padding")
f.register_addr_raw = bytes("faii.register.addr_raw", "Address (unknown family)")
f.register_udp_port = u16("faii.register.udp_port", "UDP port")
f.register_reserved2 = u16("faii.register.reserved2", "Reserved", base.HEX)
f.register_timestamp_ns = u64("faii.register.timestamp_ns", "Timestamp (ns)")
f.register_public_key = bytes("faii.register.public_key", "Public key (Ed25519)")
f.register_signature = bytes("faii.register.signature", "Signature (Ed25519)")

-- Unknown types, verdict
f.data = bytes("faii.data", "Undecoded data")
f.drop_reason = ProtoField.string("faii.drop_reason", "Drop reason")

local field_list = {}
for _, field in pairs(f) do field_list[#field_list + 1] = field end
faii.fields = field_list

------------------------------------------------------------------------------
-- Expert info: one per drop reason, faii.drop.<counter name>

local ef = {}
local structural = { too_short = true, bad_magic = true, bad_length = true, bad_payload_length = true }
local undecoded = { bad_version = true, unknown_type = true }
local expert_list = {}
for _, r in ipairs(drop_reasons) do
	local name, meaning = r[1], r[2]
	local group, severity = expert.group.PROTOCOL, expert.severity.WARN
	if structural[name] then
		group, severity = expert.group.MALFORMED, expert.severity.ERROR
	elseif undecoded[name] then
		group = expert.group.UNDECODED
	end
	ef[name] = ProtoExpert.new("faii.drop." .. name, meaning, group, severity)
	expert_list[#expert_list + 1] = ef[name]
end
ef.truncated = ProtoExpert.new("faii.truncated_capture",
	"Capture truncated: message not validated", expert.group.UNDECODED, expert.severity.NOTE)
ef.lua = ProtoExpert.new("faii.dissector_error", "faii dissector error",
	expert.group.MALFORMED, expert.severity.ERROR)
expert_list[#expert_list + 1] = ef.truncated
expert_list[#expert_list + 1] = ef.lua
faii.experts = expert_list

local meaning_of = {}
for _, r in ipairs(drop_reasons) do meaning_of[r[1]] = r[2] end

------------------------------------------------------------------------------
-- Preferences

faii.prefs.udp_port = Pref.uint("UDP port", FAII_UDP_PORT_DEFAULT,
	"UDP port of the faii protocol (default 7410)")

------------------------------------------------------------------------------
-- Body layouts: key, offset in the body, size. The key names the field f[key]
-- and the item that an expert is attached to.

local layouts = {
	[1] = {
		{ "task_task_id", 0, 8 }, { "task_client_id", 8, 8 },
		{ "task_submit_ts_ns", 16, 8 }, { "task_dispatch_ts_ns", 24, 8 },
		{ "task_node_id", 32, 4 }, { "task_latency_budget_us", 36, 4 },
		{ "task_origin_region", 40, 2 }, { "task_residency_class", 42, 2 },
		{ "task_min_reputation_milli", 44, 2 }, { "task_payload_len", 46, 2 },
		{ "task_category", 48, 1 }, { "task_tier", 49, 1 }, { "task_consistency", 50, 1 },
		{ "task_replica_index", 51, 1 }, { "task_attempt", 52, 1 }, { "task_reserved", 53, 3 },
	},
	[2] = {
		{ "result_task_id", 0, 8 }, { "result_dispatch_ts_ns", 8, 8 },
		{ "result_node_id", 16, 4 }, { "result_exec_time_us", 20, 4 },
		{ "result_status", 24, 1 }, { "result_replica_index", 25, 1 },
		{ "result_payload_len", 26, 2 }, { "result_reserved", 28, 4 },
		{ "result_result_hash", 32, 32 },
	},
	[3] = {
		{ "heartbeat_node_id", 0, 4 }, { "heartbeat_seq", 4, 4 },
		{ "heartbeat_timestamp_ns", 8, 8 }, { "heartbeat_uptime_s", 16, 8 },
		{ "heartbeat_tasks_completed", 24, 8 }, { "heartbeat_tasks_failed", 32, 8 },
		{ "heartbeat_outstanding_tasks", 40, 4 }, { "heartbeat_queue_depth", 44, 4 },
		{ "heartbeat_load_permille", 48, 4 }, { "heartbeat_reserved", 52, 4 },
		{ "heartbeat_signature", 56, 64 },
	},
	[4] = {
		{ "attest_node_id", 0, 4 }, { "attest_seq", 4, 4 },
		{ "attest_timestamp_ns", 8, 8 }, { "attest_meter_id", 16, 8 },
		{ "attest_interval_start_s", 24, 8 }, { "attest_interval_s", 32, 4 },
		{ "attest_energy_wh", 36, 4 }, { "attest_pue_milli", 40, 4 },
		{ "attest_energy_to_work_milli", 44, 4 }, { "attest_grid_stress_permille", 48, 2 },
		{ "attest_source_mix", 50, 16 }, -- one u16 per energy source, in enum order
		{ "attest_reserved", 66, 2 }, { "attest_signature", 68, 64 },
	},
	[5] = {
		{ "register_node_id", 0, 4 }, { "register_operator_id", 4, 4 },
		{ "register_asn", 8, 4 }, { "register_capacity_tasks_per_s", 12, 4 },
		{ "register_price_micro", 16, 4 }, { "register_region", 20, 2 },
		{ "register_node_class", 22, 1 }, { "register_eligibility", 23, 1 },
		{ "register_country", 24, 2 }, { "register_addr_family", 26, 1 },
		{ "register_reserved", 27, 1 }, { "register_addr", 28, 16 },
		{ "register_udp_port", 44, 2 }, { "register_reserved2", 46, 2 },
		{ "register_timestamp_ns", 48, 8 }, { "register_public_key", 56, 32 },
		{ "register_signature", 88, 64 },
	},
}

local auth_layout = {
	{ "auth_nonce", 0, 8 }, { "auth_handle", 8, 8 }, { "auth_key_epoch", 16, 1 },
	{ "auth_reserved", 17, 7 }, { "auth_mac", 24, 16 },
}

local body_names = { [1] = "Task", [2] = "Result", [3] = "Heartbeat", [4] = "Attestation", [5] = "Registration" }

------------------------------------------------------------------------------
-- Helpers

local NS_PER_S = UInt64(1000000000)

-- " (2023-11-14 22:13:20.123456789 UTC)" for a nanosecond timestamp.
local function ns_date(v)
	local secs = (v / NS_PER_S):tonumber()
	if secs == 0 or secs > 253402300799 then return "" end
	local ok, date = pcall(os.date, "!%Y-%m-%d %H:%M:%S", secs)
	if not ok or type(date) ~= "string" then return "" end
	return string.format(" (%s.%09d UTC)", date, (v % NS_PER_S):tonumber())
end

local function s_date(v)
	local secs = v:tonumber()
	if secs == 0 or secs > 253402300799 then return "" end
	local ok, date = pcall(os.date, "!%Y-%m-%d %H:%M:%S UTC", secs)
	if not ok or type(date) ~= "string" then return "" end
	return " (" .. date .. ")"
end

-- Fixed-point fields shown with their decimal value too.
local milli = {
	task_min_reputation_milli = true, attest_pue_milli = true, attest_energy_to_work_milli = true,
}

local function is_upper(c) return c >= 0x41 and c <= 0x5A end

local function all_zero(range)
	for i = 0, range:len() - 1 do
		if range(i, 1):uint() ~= 0 then return false end
	end
	return true
end

local function node_id_valid(id) return id ~= 0 and id <= 0x00FFFFFF end

------------------------------------------------------------------------------
-- Validation: faii_parse() of common/wire.c, check for check, in its order.
-- b(off, size) reads the body; returns nil (valid) or reason, item key.

local function check_task(b, flags, room)
	if b(46, 2):uint() ~= room then return "bad_payload_length", "task_payload_len" end
	local cat, tier, cons = b(48, 1):uint(), b(49, 1):uint(), b(50, 1):uint()
	if cat == 0 or cat > CATEGORY_COUNT then return "unknown_category", "task_category" end
	if tier == 0 or tier > 4 then return "unknown_tier", "task_tier" end
	if tier ~= tier_of[cat] then return "tier_mismatch", "task_tier" end
	if cons >= 3 then return "bad_consistency", "task_consistency" end
	local replica, attempt = b(51, 1):uint(), b(52, 1):uint()
	local replica_flag = band(flags, F_REPLICA) ~= 0
	-- every dispatched member of a replica set carries REPLICA
	local dispatched = band(flags, F_DISPATCHED) ~= 0
	if replica >= replicas_of[cons] or (replica_flag and cons == 0)
		or (dispatched and replica_flag ~= (cons ~= 0)) then
		return "bad_replica", "task_replica_index"
	end
	if attempt > 1 then return "bad_attempt", "task_attempt" end
	local residency = b(42, 2):uint()
	if residency == 0 or residency > 63 then return "bad_residency_class", "task_residency_class" end
	local region = b(40, 2):uint()
	if region == 0 or region > 1023 then return "bad_region", "task_origin_region" end
	if b(44, 2):uint() > 1000 then return "bad_reputation", "task_min_reputation_milli" end
	if b(36, 4):uint() == 0 then return "bad_budget", "task_latency_budget_us" end
	if all_zero(b(16, 8)) then return "bad_timestamp", "task_submit_ts_ns" end
	local node_id, dispatch_zero = b(32, 4):uint(), all_zero(b(24, 8))
	if band(flags, F_DISPATCHED) ~= 0 then
		if not node_id_valid(node_id) or dispatch_zero then return "bad_dispatch", "task_node_id" end
	elseif node_id ~= 0 or not dispatch_zero or replica ~= 0 or attempt ~= 0 or replica_flag then
		return "bad_dispatch", "flags"
	end
	if not all_zero(b(53, 3)) then return "reserved_nonzero", "task_reserved" end
	return nil
end

local function check_result(b, room)
	if b(26, 2):uint() ~= room then return "bad_payload_length", "result_payload_len" end
	local status = b(24, 1):uint()
	if status > 5 then return "bad_status", "result_status" end
	local from_node = status == 0 or status == 1
	local node_id = b(16, 4):uint()
	if from_node and not node_id_valid(node_id) or
		not from_node and node_id ~= 0 and not node_id_valid(node_id) then
		return "bad_node_id", "result_node_id"
	end
	if b(25, 1):uint() >= REPLICAS_MAX then return "bad_replica", "result_replica_index" end
	if from_node and all_zero(b(8, 8)) then return "bad_timestamp", "result_dispatch_ts_ns" end
	if b(28, 4):uint() ~= 0 then return "reserved_nonzero", "result_reserved" end
	return nil
end

local function check_heartbeat(b)
	if not node_id_valid(b(0, 4):uint()) then return "bad_node_id", "heartbeat_node_id" end
	if all_zero(b(8, 8)) then return "bad_timestamp", "heartbeat_timestamp_ns" end
	if b(48, 4):uint() > 1000 then return "bad_load", "heartbeat_load_permille" end
	if b(52, 4):uint() ~= 0 then return "reserved_nonzero", "heartbeat_reserved" end
	return nil
end

local function check_attest(b)
	if not node_id_valid(b(0, 4):uint()) then return "bad_node_id", "attest_node_id" end
	if all_zero(b(8, 8)) then return "bad_timestamp", "attest_timestamp_ns" end
	if b(32, 4):uint() == 0 then return "bad_interval", "attest_interval_s" end
	if b(40, 4):uint() < 1000 then return "bad_pue", "attest_pue_milli" end
	if b(44, 4):uint() == 0 then return "bad_energy_to_work", "attest_energy_to_work_milli" end
	if b(48, 2):uint() > 1000 then return "bad_grid_stress", "attest_grid_stress_permille" end
	local sum = 0
	for i = 0, #energy_sources - 1 do sum = sum + b(50 + 2 * i, 2):uint() end
	if sum ~= 1000 then return "bad_energy_mix", "attest_source_mix" end
	if b(66, 2):uint() ~= 0 then return "reserved_nonzero", "attest_reserved" end
	return nil
end

local function check_register(b)
	if not node_id_valid(b(0, 4):uint()) then return "bad_node_id", "register_node_id" end
	if b(22, 1):uint() >= 5 then return "bad_node_class", "register_node_class" end
	local elig = b(23, 1):uint()
	if elig == 0 or band(elig, 0xC0) ~= 0 then return "bad_eligibility", "register_eligibility" end
	if not is_upper(b(24, 1):uint()) or not is_upper(b(25, 1):uint()) then
		return "bad_country", "register_country"
	end
	local region = b(20, 2):uint()
	if region == 0 or region > 1023 then return "bad_region", "register_region" end
	local family = b(26, 1):uint()
	if family == 4 then
		if not all_zero(b(32, 12)) then return "bad_address", "register_addr" end
	elseif family ~= 6 then
		return "bad_address", "register_addr_family"
	end
	if b(44, 2):uint() == 0 then return "bad_port", "register_udp_port" end
	if b(12, 4):uint() == 0 then return "bad_capacity", "register_capacity_tasks_per_s" end
	if all_zero(b(48, 8)) then return "bad_timestamp", "register_timestamp_ns" end
	if b(27, 1):uint() ~= 0 then return "reserved_nonzero", "register_reserved" end
	if b(46, 2):uint() ~= 0 then return "reserved_nonzero", "register_reserved2" end
	return nil
end

-- Version 2's block (common/wire.c check_auth): a client's TASK has no token,
-- a dispatched copy and a node's ok/error RESULT carry a non-zero nonce.
local function check_auth(a, mtype, flags, status)
	local nonce_zero = all_zero(a(0, 8))
	if mtype == 1 then
		if band(flags, F_DISPATCHED) ~= 0 then
			if nonce_zero then return "bad_dispatch", "auth_nonce" end
		elseif not (nonce_zero and all_zero(a(8, 8))) then
			return "bad_dispatch", "auth_nonce"
		end
	elseif (status == 0 or status == 1) and nonce_zero then
		return "bad_dispatch", "auth_nonce"
	end
	if not all_zero(a(17, 7)) then return "reserved_nonzero", "auth_reserved" end
	return nil
end

-- len: the datagram's length; cap: the bytes captured of it. Returns the
-- drop reason and item key, "ok" when valid, or nil when the capture lacks
-- bytes the verdict depends on.
local function validate(tvb, len, cap)
	if len < HDR then return "too_short", "header" end
	if cap < HDR then return nil end
	if tvb(0, 2):uint() ~= FAII_MAGIC then return "bad_magic", "magic" end
	local version = tvb(2, 1):uint()
	if not version_known(version) then return "bad_version", "version" end
	local mtype = tvb(3, 1):uint()
	local size = size_of(version, mtype)
	if size == nil then return "unknown_type", "type" end
	if len < HDR + size then return "too_short", "length" end
	if cap < HDR + size then return nil end
	local length = tvb(4, 2):uint()
	if length ~= len or length > FAII_MSG_SIZE_MAX then return "bad_length", "length" end
	local has_payload = mtype == 1 or mtype == 2
	if not has_payload and length ~= HDR + size then return "bad_length", "length" end
	local flags = tvb(6, 1):uint()
	local allowed = mtype == 1 and (F_DISPATCHED + F_REPLICA) or 0
	if band(flags, 0xFF - allowed) ~= 0 then return "bad_flags", "flags" end
	if tvb(7, 1):uint() ~= 0 then return "reserved_nonzero", "reserved" end

	local function b(off, n) return tvb(HDR + off, n) end
	local room = length - HDR - size
	local reason, key
	if mtype == 1 then
		reason, key = check_task(b, flags, room)
	elseif mtype == 2 then
		reason, key = check_result(b, room)
	elseif mtype == 3 then
		reason, key = check_heartbeat(b)
	elseif mtype == 4 then
		reason, key = check_attest(b)
	else
		reason, key = check_register(b)
	end
	if reason == nil and version == FAII_VERSION_2 and (mtype == 1 or mtype == 2) then
		reason, key = check_auth(function(off, n) return b(body_size[mtype] + off, n) end,
			mtype, flags, mtype == 2 and b(24, 1):uint() or 0)
	end
	return reason or "ok", key
end

------------------------------------------------------------------------------
-- Tree

-- Adds the body fields that were captured to tree, and each item to items[key].
local function add_body(tvb, tree, mtype, cap, items)
	local layout = layouts[mtype]
	local family = cap >= HDR + 27 and mtype == 5 and tvb(HDR + 26, 1):uint() or nil
	for _, e in ipairs(layout) do
		local key, off, size = e[1], HDR + e[2], e[3]
		if off + size > cap then break end
		local range = tvb(off, size)
		local item
		if key == "register_addr" then
			if family == 4 then
				item = tree:add(f.register_addr, tvb(off, 4))
				if not all_zero(tvb(off + 4, 12)) then
					tree:add(f.register_addr_tail, tvb(off + 4, 12))
				end
			elseif family == 6 then
				item = tree:add(f.register_addr6, range)
			else
				item = tree:add(f.register_addr_raw, range)
			end
		elseif key == "attest_source_mix" then
			item = tree:add(f.attest_source_mix, range)
			local sum, renewable = 0, 0
			for i, src in ipairs(energy_sources) do
				local r = tvb(off + 2 * (i - 1), 2)
				local v = r:uint()
				item:add(f["attest_source_mix_" .. src], r)
				sum = sum + v
				if i <= RENEWABLE_COUNT then renewable = renewable + v end
			end
			item:add(f.attest_source_mix_sum, range, sum):set_generated()
			item:add(f.attest_source_mix_renewable, range, renewable):set_generated()
			item:append_text(string.format(": renewable %d permille, sum %d", renewable, sum))
		elseif key == "register_eligibility" then
			item = tree:add(f.register_eligibility, range)
			local names = {}
			for cat, name in ipairs(categories) do
				item:add(f["register_eligibility_" .. name], range)
				if band(range:uint(), bit_of[cat]) ~= 0 then names[#names + 1] = name end
			end
			item:add(f.register_eligibility_undefined, range)
			if #names > 0 then item:append_text(" (" .. table.concat(names, ", ") .. ")") end
		else
			item = tree:add(f[key], range)
			if key:sub(-6) == "_ts_ns" or key:sub(-13) == "_timestamp_ns" then
				item:append_text(ns_date(range:uint64()))
			elseif key == "attest_interval_start_s" then
				item:append_text(s_date(range:uint64()))
			elseif milli[key] then
				local v = range:uint()
				item:append_text(string.format(" (%d.%03d)", math.floor(v / 1000), v % 1000))
			elseif key:sub(-10) == "_signature" then
				item:append_text(" (not verified)")
			elseif key == "task_tier" and size == 1 then
				local cat = tvb(HDR + 48, 1):uint()
				if tier_of[cat] then item:append_text(string.format(" (category's tier: %d)", tier_of[cat])) end
			end
		end
		items[key] = item
	end
end

local function summary(tvb, mtype, flags)
	local function b(off, n) return tvb(HDR + off, n) end
	local name = msg_types[mtype]
	if mtype == 1 then
		local cat = b(48, 1):uint()
		local s = string.format("TASK id=0x%s cat=%s tier=%d", b(0, 8):uint64():tohex(),
			categories[cat] or tostring(cat), b(49, 1):uint())
		local cons = b(50, 1):uint()
		if cons ~= 0 then s = s .. " cons=" .. (consistency[cons] or tostring(cons)) end
		if band(flags, F_DISPATCHED) ~= 0 then s = s .. " node=" .. b(32, 4):uint() end
		if band(flags, F_REPLICA) ~= 0 then s = s .. " replica=" .. b(51, 1):uint() end
		if b(52, 1):uint() ~= 0 then s = s .. " attempt=" .. b(52, 1):uint() end
		return s
	elseif mtype == 2 then
		local status = b(24, 1):uint()
		return string.format("RESULT id=0x%s status=%s node=%d replica=%d",
			b(0, 8):uint64():tohex(), result_status[status] or tostring(status),
			b(16, 4):uint(), b(25, 1):uint())
	elseif mtype == 3 then
		local load = b(48, 4):uint()
		return string.format("HEARTBEAT node=%d seq=%d load=%d.%d%% queue=%d", b(0, 4):uint(),
			b(4, 4):uint(), math.floor(load / 10), load % 10, b(44, 4):uint())
	elseif mtype == 4 then
		local pue = b(40, 4):uint()
		return string.format("ATTEST node=%d seq=%d energy=%dWh pue=%d.%03d", b(0, 4):uint(),
			b(4, 4):uint(), b(36, 4):uint(), math.floor(pue / 1000), pue % 1000)
	elseif mtype == 5 then
		local family, addr = b(26, 1):uint(), "?"
		if family == 4 then
			addr = tostring(b(28, 4):ipv4())
		elseif family == 6 then
			addr = "[" .. tostring(b(28, 16):ipv6()) .. "]"
		end
		local class = b(22, 1):uint()
		return string.format("REGISTER node=%d class=%s country=%s addr=%s:%d", b(0, 4):uint(),
			node_classes[class] or tostring(class), b(24, 2):string(), addr, b(44, 2):uint())
	end
	return name
end

local function dissect(tvb, pinfo, tree)
	local len = tvb:reported_length_remaining()
	local cap = tvb:len()
	pinfo.cols.protocol = "FAII"

	local root = tree:add(faii, tvb())
	local items = {}
	local mtype

	if cap >= HDR then
		mtype = tvb(3, 1):uint()
		local hdr = root:add(tvb(0, HDR), "Header")
		items.header = hdr
		items.magic = hdr:add(f.magic, tvb(0, 2))
		items.version = hdr:add(f.version, tvb(2, 1))
		items.type = hdr:add(f.type, tvb(3, 1))
		items.length = hdr:add(f.length, tvb(4, 2))
		local flags = hdr:add(f.flags, tvb(6, 1))
		flags:add(f.flags_dispatched, tvb(6, 1))
		flags:add(f.flags_replica, tvb(6, 1))
		flags:add(f.flags_undefined, tvb(6, 1))
		items.flags = flags
		items.reserved = hdr:add(f.reserved, tvb(7, 1))
	elseif cap > 0 then
		items.header = root:add(f.data, tvb())
	end

	local reason, key = validate(tvb, len, cap)
	local version = cap >= HDR and tvb(2, 1):uint() or 0
	local known = cap >= HDR and tvb(0, 2):uint() == FAII_MAGIC and
		version_known(version) and body_size[mtype] ~= nil
	local name = known and msg_types[mtype] or nil

	if known then
		local size = size_of(version, mtype)
		local body = root:add(tvb(HDR, math.min(cap, HDR + size) - HDR),
			body_names[mtype])
		add_body(tvb, body, mtype, cap, items)
		if size ~= body_size[mtype] and cap >= HDR + size then
			local base_ = HDR + body_size[mtype]
			local auth = body:add(tvb(base_, AUTH_BLOCK), "Authentication")
			for _, e in ipairs(auth_layout) do
				local item = auth:add(f[e[1]], tvb(base_ + e[2], e[3]))
				if e[1] == "auth_mac" then item:append_text(" (not verified)") end
				items[e[1]] = item
			end
		end
		local body_end = HDR + size
		if (mtype == 1 or mtype == 2) and cap > body_end then
			local field = mtype == 1 and f.task_payload or f.result_payload
			root:add(field, tvb(body_end))
		elseif cap > body_end then
			root:add(f.data, tvb(body_end))
		end
		root:append_text(", " .. name)
	elseif cap > HDR then
		root:add(f.data, tvb(HDR))
	end

	local info
	if known and cap >= HDR + size_of(version, mtype) then
		info = summary(tvb, mtype, tvb(6, 1):uint())
		if version == FAII_VERSION_2 and (mtype == 1 or mtype == 2) then
			info = info .. string.format(" v2 epoch=%d", tvb(HDR + body_size[mtype] + 16, 1):uint())
		end
	elseif known then
		info = name .. " (truncated)"
	elseif cap >= HDR and tvb(0, 2):uint() == FAII_MAGIC and version_known(version) then
		info = "type " .. mtype
	else
		info = "not a faii v1/v2 message"
	end

	if reason == nil then
		root:add_proto_expert_info(ef.truncated)
	else
		root:add(f.drop_reason, reason):set_generated()
		if reason ~= "ok" then
			local target = items[key] or items.header or root
			target:add_proto_expert_info(ef[reason],
				string.format("Dropped by the appliance: %s (%s)", reason, meaning_of[reason]))
			info = info .. " [" .. reason .. "]"
			root:append_text(" [" .. reason .. "]")
		end
	end
	pinfo.cols.info = info
	return cap
end

function faii.dissector(tvb, pinfo, tree)
	local ok, res = pcall(dissect, tvb, pinfo, tree)
	if ok then return res end
	-- A bug here must not hide the packet: report it and claim the datagram.
	tree:add_proto_expert_info(ef.lua, "faii dissector error: " .. tostring(res))
	return tvb:len()
end

------------------------------------------------------------------------------
-- Registration

local registered_port
local function register_port(port)
	local udp = DissectorTable.get("udp.port")
	if registered_port ~= nil then udp:remove(registered_port, faii) end
	registered_port = port
	if port ~= 0 then udp:add(port, faii) end
end

function faii.prefs_changed()
	if faii.prefs.udp_port ~= registered_port then register_port(faii.prefs.udp_port) end
end

register_port(FAII_UDP_PORT_DEFAULT)
