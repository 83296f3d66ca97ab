ALTER TABLE events ADD PRIMARY KEY (id);

-- must not fire
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;
