-- Retention (RetentionJob): applied batch ids and model reports are pruned by age, oldest first.
create index sync_batch_created on sync_batch (created_at);
create index model_report_reported on model_report (reported_at);
