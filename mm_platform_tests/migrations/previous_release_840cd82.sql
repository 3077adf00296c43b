-- The platform database as the previous release made it on PostgreSQL: create_all of the models at
-- commit 840cd82 (CreateTable/CreateIndex compiled for postgresql). Frozen: never edit it to follow
-- the models; it is what `mm-platform db upgrade` must adopt.

CREATE TABLE event_inbox (
	id BIGSERIAL NOT NULL,
	topic VARCHAR(249) NOT NULL,
	kafka_partition INTEGER,
	kafka_offset BIGINT,
	source_ref TEXT,
	message_key TEXT,
	headers JSON,
	raw_value BYTEA,
	payload JSON,
	event_type VARCHAR(100),
	entity_key TEXT,
	dedup_key TEXT,
	partition_key VARCHAR(200),
	status VARCHAR(16) NOT NULL,
	reason TEXT,
	attempts INTEGER DEFAULT '0' NOT NULL,
	run_id VARCHAR(64),
	received_at TIMESTAMP WITH TIME ZONE NOT NULL,
	last_attempted TIMESTAMP WITH TIME ZONE,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_event_inbox_coordinates UNIQUE (topic, kafka_partition, kafka_offset),
	CONSTRAINT uq_event_inbox_source_ref UNIQUE (topic, source_ref)
);

CREATE INDEX ix_event_inbox_dedup ON event_inbox (topic, dedup_key);
CREATE INDEX ix_event_inbox_entity ON event_inbox (topic, entity_key, id);
CREATE INDEX ix_event_inbox_status_id ON event_inbox (status, id);
CREATE INDEX ix_event_inbox_topic_status_dedup ON event_inbox (topic, status, dedup_key);

CREATE TABLE slack_outbox (
	id SERIAL NOT NULL,
	channel VARCHAR(200) NOT NULL,
	text VARCHAR(4000) NOT NULL,
	attachments JSON,
	recorded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);


CREATE TABLE vf_rejected_row (
	id BIGSERIAL NOT NULL,
	file_ref VARCHAR(1100) NOT NULL,
	object_key VARCHAR(1024) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	line INTEGER NOT NULL,
	campaign_id VARCHAR(200) NOT NULL,
	member_key VARCHAR(300) NOT NULL,
	stage VARCHAR(32) NOT NULL,
	reason TEXT NOT NULL,
	recorded_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_vf_rejected_row_file_line UNIQUE (file_ref, line)
);

CREATE INDEX ix_vf_rejected_row_campaign ON vf_rejected_row (campaign_id, id);

CREATE TABLE vf_staged_part (
	id BIGSERIAL NOT NULL,
	file_ref VARCHAR(1100) NOT NULL,
	object_key VARCHAR(1024) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	campaign_id VARCHAR(100) NOT NULL,
	upload_order VARCHAR(1200) NOT NULL,
	inbox_id BIGINT,
	staged_uri VARCHAR(1200) NOT NULL,
	rows_in INTEGER NOT NULL,
	valid INTEGER NOT NULL,
	invalid INTEGER NOT NULL,
	duplicates INTEGER NOT NULL,
	records INTEGER NOT NULL,
	rank0 INTEGER NOT NULL,
	status VARCHAR(16) NOT NULL,
	staged_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	published_at TIMESTAMP WITHOUT TIME ZONE,
	applied_at TIMESTAMP WITHOUT TIME ZONE,
	applied_by VARCHAR(64),
	entry_scored_at TIMESTAMP WITHOUT TIME ZONE,
	attempts INTEGER DEFAULT '0' NOT NULL,
	last_error TEXT,
	PRIMARY KEY (id),
	CONSTRAINT uq_vf_staged_part_file_campaign UNIQUE (file_ref, campaign_id)
);

CREATE INDEX ix_vf_staged_part_campaign ON vf_staged_part (campaign_id, kind, status);
CREATE INDEX ix_vf_staged_part_status ON vf_staged_part (status, id);

CREATE TABLE scoring_leaderboard (
	challenge_id VARCHAR(200) NOT NULL,
	phase VARCHAR(32) NOT NULL,
	member_id VARCHAR(200) NOT NULL,
	rank INTEGER NOT NULL,
	submission_id VARCHAR(200) NOT NULL,
	created TIMESTAMP WITH TIME ZONE NOT NULL,
	status VARCHAR(16) NOT NULL,
	raw_score FLOAT,
	relative_score FLOAT,
	PRIMARY KEY (challenge_id, phase, member_id)
);


CREATE TABLE scoring_result (
	submission_id VARCHAR(200) NOT NULL,
	phase VARCHAR(32) NOT NULL,
	challenge_id VARCHAR(200) NOT NULL,
	status VARCHAR(16) NOT NULL,
	score FLOAT,
	test_scores JSON,
	attempts INTEGER DEFAULT '0' NOT NULL,
	reason TEXT,
	scorer_ref TEXT,
	scorer_seconds FLOAT,
	run_id VARCHAR(64),
	review_id VARCHAR(200),
	summation_id VARCHAR(200),
	failed_posted BOOLEAN DEFAULT '0' NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (submission_id, phase)
);

CREATE INDEX ix_scoring_result_challenge ON scoring_result (challenge_id, status);

CREATE TABLE scoring_submission (
	submission_id VARCHAR(200) NOT NULL,
	challenge_id VARCHAR(200) NOT NULL,
	member_id VARCHAR(200) NOT NULL,
	url TEXT NOT NULL,
	created TIMESTAMP WITH TIME ZONE NOT NULL,
	inbox_id INTEGER,
	received_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (submission_id)
);

CREATE INDEX ix_scoring_submission_challenge ON scoring_submission (challenge_id);

CREATE TABLE arena_deltaker (
	id BIGSERIAL NOT NULL,
	arena_id VARCHAR(40) NOT NULL,
	arena_source_table VARCHAR(40) NOT NULL,
	person_id BIGINT,
	gjennomforing_id BIGINT NOT NULL,
	dato_fra DATE,
	dato_til DATE,
	reg_dato TIMESTAMP WITHOUT TIME ZONE,
	mod_dato TIMESTAMP WITHOUT TIME ZONE,
	status VARCHAR(40) NOT NULL,
	dato_statusendring TIMESTAMP WITHOUT TIME ZONE,
	ekstern_id VARCHAR(100),
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	modified_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_arena_deltaker_source UNIQUE (arena_id, arena_source_table)
);

CREATE INDEX ix_arena_deltaker_person ON arena_deltaker (person_id, gjennomforing_id);

CREATE TABLE arena_gjennomforing (
	arena_id VARCHAR(40) NOT NULL,
	tiltak_kode TEXT NOT NULL,
	is_valid BOOLEAN NOT NULL,
	mr_id VARCHAR(36),
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	modified_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (arena_id)
);


CREATE TABLE arena_hist_id_translation (
	amt_id VARCHAR(36) NOT NULL,
	arena_hist_id VARCHAR(40) NOT NULL,
	arena_id VARCHAR(40),
	PRIMARY KEY (amt_id),
	UNIQUE (arena_hist_id)
);


CREATE TABLE arena_id_translation (
	amt_id VARCHAR(36) NOT NULL,
	arena_table_name VARCHAR(40) NOT NULL,
	arena_id VARCHAR(40) NOT NULL,
	PRIMARY KEY (amt_id),
	CONSTRAINT uq_arena_id_translation UNIQUE (arena_table_name, arena_id)
);


CREATE TABLE arena_outbox (
	id BIGSERIAL NOT NULL,
	ledger_id BIGINT NOT NULL,
	topic VARCHAR(249) NOT NULL,
	message_key VARCHAR(100) NOT NULL,
	value BYTEA,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	sending_at TIMESTAMP WITH TIME ZONE,
	produced_at TIMESTAMP WITH TIME ZONE,
	produced_partition INTEGER,
	produced_offset BIGINT,
	PRIMARY KEY (id)
);

CREATE INDEX ix_arena_outbox_ledger ON arena_outbox (ledger_id);
CREATE INDEX ix_arena_outbox_pending ON arena_outbox (produced_at, id);
