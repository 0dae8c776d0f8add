"""The shopper's own data: download (GDPR access) through the API."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..privacy import user_export_data


class MyDataExportApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "privacy"

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        response = Response(user_export_data(user=request.user))
        response["Content-Disposition"] = 'attachment; filename="my-data.json"'
        return response
