"""IncidentsService: the incidents of a user's projects, for the editor and the dashboard."""
