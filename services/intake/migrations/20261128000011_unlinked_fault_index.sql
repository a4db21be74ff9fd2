-- Grouping a new technical ticket looks for recent tickets of its fault type in no incident.
-- Under an outage most such tickets are linked, so the index holds only the unlinked ones: the
-- lookup no longer walks past every linked ticket of the window.
DROP INDEX ticket_fault_recent_idx;
CREATE INDEX ticket_fault_unlinked_idx ON ticket (fault_type, created_at)
    WHERE fault_type IS NOT NULL AND incident_id IS NULL;
